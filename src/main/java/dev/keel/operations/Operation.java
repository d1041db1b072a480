package dev.keel.operations;

import io.micronaut.core.annotation.Nullable;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * A piece of long work and how far it got: {@code done} of {@code total} {@code unit}s, now at
 * {@code step}, a sentence for people; {@code stepCode} names the same step for the handler that
 * resumes it (null where the kind names no steps). {@code node} runs it: the node that hosts its
 * database's primary when it was recorded (null in rows from before operations named their node);
 * {@code recordedBy} the node that recorded it; {@code startedAt} when a runner first began its work
 * (null while it waits; an operation run inline by its recorder, outside the runner, has none).
 */
public record Operation(UUID id, UUID teamId, @Nullable UUID databaseId, OperationKind kind, OperationState state,
                        @Nullable String step, @Nullable String stepCode, long done, long total, String unit, int attempt, @Nullable String error,
                        @Nullable String errorCode, @Nullable Boolean errorRetryable,
                        OffsetDateTime createdAt, OffsetDateTime updatedAt, @Nullable OffsetDateTime finishedAt, @Nullable String node,
                        @Nullable String recordedBy, @Nullable OffsetDateTime startedAt) {
}
