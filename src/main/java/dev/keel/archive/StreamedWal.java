package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.WalSegmentName;

import java.time.Instant;
import java.util.UUID;

/**
 * The partial segment a database's WAL receiver last put in the object store: {@code segment}
 * through {@code end} (its first {@code size} bytes), stored at {@code storedAt}.
 */
public record StreamedWal(UUID database, UUID instance, long systemIdentifier, WalSegmentName segment, Lsn end, long size,
                          long storedBytes, String sha256, Instant storedAt) {
    public String name() {
        return segment.toString();
    }
}
