package dev.keel.credentials;

import java.util.UUID;

/**
 * Published (synchronously) once a credential's new password is in force on the server and in the
 * catalog, so that whatever logs in on its behalf (a pooler) learns it before the rotation answers.
 */
public record CredentialRotated(UUID databaseId, String name) {
}
