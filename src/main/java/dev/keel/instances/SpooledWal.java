package dev.keel.instances;

import java.time.Instant;

/** A WAL file the server finished and handed off through {@code archive_command}, waiting to be uploaded. */
public record SpooledWal(String name, long size, Instant completedAt) {
}
