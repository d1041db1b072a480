package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.UUID;

/** A base backup: {@code size} is the data directory's bytes, {@code stored} the compressed object's. */
public record Backup(UUID id, UUID databaseId, UUID operationId, BackupKind kind, BackupState state, Instant startedAt,
                     @Nullable Instant finishedAt, @Nullable Lsn startLsn, @Nullable Lsn stopLsn, @Nullable TimelineId timeline,
                     @Nullable Long size, @Nullable Long stored, @Nullable String error) {
}
