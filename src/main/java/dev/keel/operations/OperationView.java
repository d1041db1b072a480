package dev.keel.operations;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * An operation as {@code GET /v1/operations/{id}} shows it, read as stored: its kind may be one a
 * newer Keel added, which {@link OperationKind} does not know ({@link OperationRepository#view}).
 */
@Serdeable
record OperationView(UUID id, String kind, String state, @Nullable UUID databaseId, @Nullable String step, @Nullable String stepCode,
                     Progress progress, int attempt,
                     @Nullable String error, @Nullable String errorCode, @Nullable Boolean retryable, OffsetDateTime createdAt,
                     OffsetDateTime updatedAt, @Nullable OffsetDateTime finishedAt, @Nullable String node) {

    @Serdeable
    record Progress(long done, long total, String unit) {
    }
}
