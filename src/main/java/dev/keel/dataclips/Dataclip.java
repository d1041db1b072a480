package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;

import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;

/**
 * A saved query of a team's database, with its current version. {@code parameters} are the
 * default values of its {@code {{name}}} parameters; {@code slug} is set while it is shared.
 */
record Dataclip(UUID id, UUID teamId, UUID databaseId, String title, Map<String, String> parameters, int timeoutSeconds,
                @Nullable String slug, @Nullable OffsetDateTime sharedAt, @Nullable OffsetDateTime lastAccessedAt, long accessCount,
                OffsetDateTime createdAt, OffsetDateTime updatedAt, Version version) {

    /** One SQL text of a clip; each edit of the SQL is a new number. */
    record Version(UUID id, int number, String sql, OffsetDateTime createdAt) {
    }
}
