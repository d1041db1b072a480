package dev.keel.auth;

import java.time.OffsetDateTime;
import java.util.UUID;

/** An API key as listed: never the key itself, only its last characters as a hint. */
public record ApiKey(UUID id, UUID teamId, String name, String hint, boolean admin, OffsetDateTime createdAt,
                     OffsetDateTime lastUsedAt) {
}
