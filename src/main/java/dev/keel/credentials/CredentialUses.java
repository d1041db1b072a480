package dev.keel.credentials;

import java.util.List;
import java.util.UUID;

/** Who uses a credential: the apps attached through it (implemented by {@code apps}). */
public interface CredentialUses {
    /** The names of the apps with an attachment of {@code databaseId} through {@code credential}, sorted. */
    List<String> apps(UUID databaseId, String credential);
}
