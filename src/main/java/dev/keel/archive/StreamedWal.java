package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.WalSegmentName;
import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.UUID;

/**
 * The partial segment a database's WAL receiver last put in the object store: {@code segment}
 * through {@code end} (its first {@code size} bytes), stored at {@code storedAt}; {@code caughtUpAt}:
 * the last time that receiver knew everything its server had as stored, as of this part (null
 * when it knew no such time, or when the row no longer holds the part it was written with: a node
 * of an earlier version rewrote it), which a receiver that starts anew takes as its own.
 */
public record StreamedWal(UUID database, UUID instance, long systemIdentifier, WalSegmentName segment, Lsn end, long size,
                          long storedBytes, String sha256, Instant storedAt, @Nullable Instant caughtUpAt) {
    public String name() {
        return segment.toString();
    }
}
