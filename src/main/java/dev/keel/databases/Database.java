package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One managed Postgres. {@code pgDatabase} is the database's name inside its server;
 * {@code stateReason} says why it {@code failed}.
 */
public record Database(UUID id, UUID teamId, String name, String plan, int major, String pgDatabase, DatabaseState state,
                       @Nullable String stateReason, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
}
