package dev.keel.apps;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One database attached to one app under {@code name} (config var {@code <name>_URL}) through one
 * credential; a {@code pooled} one reaches the database through its pooler (PgBouncer), a
 * {@code failover} one through the URL that lists every server that can be its primary.
 */
public record Attachment(UUID id, UUID appId, String appName, UUID databaseId, String name, String credential, OffsetDateTime createdAt,
                         boolean pooled, boolean failover) {
    public String configVar() {
        return name + "_URL";
    }
}
