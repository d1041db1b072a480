package dev.keel.dumps;

import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.UUID;

/**
 * A logical backup or restore. {@code databaseId} is the database dumped (a backup) or restored
 * into (a restore); {@code scheduleName} marks a scheduled backup; a restore reads
 * {@code sourceBackupId} or {@code sourceUrl}, shown as {@code sourceName}. {@code sourceBytes} is
 * the database's size when dumped (or the dump's size when restored), {@code processedBytes} the
 * bytes of the dump written or read so far.
 */
public record Transfer(UUID id, long num, UUID teamId, TransferKind kind, UUID databaseId, UUID operationId, TransferState state,
                       @Nullable String scheduleName, @Nullable UUID sourceBackupId, @Nullable String sourceUrl,
                       @Nullable String sourceName, @Nullable Long sourceBytes, long processedBytes, @Nullable String sha256,
                       int warnings, @Nullable String error, Instant createdAt, @Nullable Instant finishedAt) {
    public boolean finished() {
        return state != TransferState.RUNNING;
    }

    /** Heroku's name: b001 (manual backup), a001 (scheduled backup), r001 (restore). */
    public String name() {
        String prefix = kind == TransferKind.RESTORE ? "r" : scheduleName != null ? "a" : "b";
        return prefix + String.format("%03d", num);
    }
}
