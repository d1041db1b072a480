package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * One run of a clip's version with one set of parameter values: {@code running}, then
 * {@code succeeded} (columns, row count, whether a cap cut it: the
 * {@link Truncation} code and its sentence) or {@code failed} (Postgres'
 * message, SQLSTATE and the position in the clip's SQL). {@code ranOn} says whether a follower
 * or the primary answered, and {@code ranOnDatabase} which database. {@code cellLimit}: the bytes
 * cells were cut to when any were, else null.
 */
record ClipResult(UUID id, UUID dataclipId, UUID versionId, String parameters, String state, OffsetDateTime startedAt,
                  @Nullable OffsetDateTime finishedAt, @Nullable String ranOn, @Nullable UUID ranOnDatabase,
                  List<String> fields, List<ColumnType> types, long rowCount, boolean truncated,
                  @Nullable String truncatedReason, @Nullable String truncatedDetail, @Nullable String errorMessage, @Nullable Integer errorPosition, @Nullable String errorSqlstate,
                  @Nullable Integer cellLimit) {
    static final String RUNNING = "running";
    static final String SUCCEEDED = "succeeded";
    static final String FAILED = "failed";

    boolean succeeded() {
        return SUCCEEDED.equals(state);
    }

    boolean finished() {
        return finishedAt != null;
    }

    @Nullable
    Long durationMillis() {
        return finishedAt == null ? null : Duration.between(startedAt, finishedAt).toMillis();
    }
}
