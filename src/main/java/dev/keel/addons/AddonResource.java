package dev.keel.addons;

import io.micronaut.core.annotation.Nullable;

import java.util.UUID;

/**
 * A platform's add-on resource: its {@code id} (the platform's uuid) and the database Keel made
 * for it. {@code state}: {@code provisioning} until the platform was told the database is ready,
 * then {@code provisioned}; {@code deprovisioned} once deleted.
 */
record AddonResource(UUID id, UUID databaseId, String plan, @Nullable String callbackUrl, String state) {
    static final String PROVISIONING = "provisioning";
    static final String PROVISIONED = "provisioned";
    static final String DEPROVISIONED = "deprovisioned";
}
