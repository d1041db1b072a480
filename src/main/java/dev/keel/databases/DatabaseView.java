package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * A database as the API shows it. {@code url} (the default credential's connection URL) is set
 * once the database is {@code available}; {@code progress} while an operation runs on it.
 */
@Serdeable
public record DatabaseView(UUID id, String name, String plan, String version, String state, @Nullable String stateReason,
                           @Nullable Progress progress, @Nullable String url, OffsetDateTime createdAt, OffsetDateTime updatedAt) {

    /** The running operation on the database: at {@code step}, {@code done} of {@code total} {@code unit}s. */
    @Serdeable
    public record Progress(UUID operationId, String kind, @Nullable String step, long done, long total, String unit) {
    }
}
