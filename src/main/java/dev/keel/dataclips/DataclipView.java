package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** A dataclip as the API shows it, with the newest result of its current version for its default parameters. */
@Serdeable
record DataclipView(UUID id, String title, DatabaseRef database, String sql, int version, Map<String, String> parameters,
                    int timeoutSeconds, boolean shared, OffsetDateTime createdAt, OffsetDateTime updatedAt, @Nullable ResultView result) {

    @Serdeable
    record DatabaseRef(UUID id, String name) {
    }

    /** Where a result was computed: {@code follower} or {@code primary}, and which database that is. */
    @Serdeable
    record RanOn(String role, UUID databaseId, @Nullable String databaseName) {
    }

    @Serdeable
    record Error(String message, @Nullable Integer position, @Nullable String sqlstate) {
    }

    /** One run: state, times, rows, why it was cut (a {@link Truncation} code and a sentence), and Postgres' error when it failed. */
    @Serdeable
    record ResultView(UUID id, String state, Map<String, String> parameters, OffsetDateTime startedAt,
                      @Nullable OffsetDateTime finishedAt, @Nullable Long durationMs, @Nullable Long rowCount, boolean truncated,
                      @Nullable String truncatedReason, @Nullable String truncatedDetail, @Nullable RanOn ranOn, List<String> fields, List<String> types, @Nullable Error error) {
    }

    /** A version of the SQL and every run of it, newest first. */
    @Serdeable
    record VersionView(int version, String sql, OffsetDateTime createdAt, List<ResultView> results) {
    }

    /** Whether a clip is shared, at which URL, and how its link was used. */
    @Serdeable
    record ShareView(boolean shared, @Nullable String url, @Nullable OffsetDateTime sharedAt, @Nullable OffsetDateTime lastAccessedAt,
                     long accessCount) {
    }

    static List<String> typeNames(List<ColumnType> types) {
        return types.stream().map(ColumnType::name).toList();
    }
}
