package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.util.Map;

/**
 * Body of {@code POST /v1/dataclips} (title, database and sql required) and of
 * {@code PATCH /v1/dataclips/{id}} (each field optional). {@code parameters} are default values
 * of the SQL's {@code {{name}}} parameters; {@code timeoutSeconds} the clip's time limit.
 */
@Serdeable
record DataclipRequest(@Nullable String title, @Nullable String database, @Nullable String sql,
                       @Nullable Map<String, String> parameters, @Nullable Integer timeoutSeconds) {
}
