package dev.keel.archive;

import dev.keel.postgres.WalFileName;

import java.time.Instant;

/** A WAL file that is in the object store: {@code completedAt} is when the server finished it. */
public record ArchivedWal(WalFileName file, long size, long storedBytes, String sha256, Instant completedAt, Instant archivedAt) {
    public String name() {
        return file.name();
    }
}
