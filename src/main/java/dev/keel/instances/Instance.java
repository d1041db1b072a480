package dev.keel.instances;

import java.util.UUID;

/** One Postgres server of a database, reachable by Keel at {@code host:port}. */
public record Instance(UUID id, UUID databaseId, InstanceRole role, InstanceState state, int major, String host, int port) {
}
