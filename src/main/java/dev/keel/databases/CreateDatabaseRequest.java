package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * {@code POST /v1/databases}. {@code version} is a major, as a number or a string ("16");
 * unknown fields are ignored.
 */
@Serdeable
public record CreateDatabaseRequest(@Nullable String plan, @Nullable String name, @Nullable Object version) {
}
