package dev.keel.pooling;

import java.util.UUID;

/** A database's PgBouncer: where it listens. */
public record Pooler(UUID databaseId, String host, int port) {
}
