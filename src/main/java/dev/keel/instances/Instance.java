package dev.keel.instances;

import io.micronaut.core.annotation.Nullable;

import java.util.UUID;

/**
 * One Postgres server of a database (none while pooled), reachable by Keel at {@code host:port}, on
 * Keel node {@code node} (null for a row older than the node registry, until a node claims it).
 */
public record Instance(UUID id, @Nullable UUID databaseId, InstanceRole role, InstanceState state, int major, String host, int port,
                       @Nullable String node) {
}
