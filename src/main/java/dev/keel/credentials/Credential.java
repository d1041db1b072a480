package dev.keel.credentials;

import java.time.OffsetDateTime;
import java.util.UUID;

/** A Postgres role of a database with a password Keel keeps (sealed); {@code default} owns the database. */
public record Credential(UUID id, UUID databaseId, String name, String username, String state, OffsetDateTime createdAt) {
    public static final String DEFAULT = "default";
    public static final String ACTIVE = "active";
}
