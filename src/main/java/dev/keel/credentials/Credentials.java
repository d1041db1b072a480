package dev.keel.credentials;

import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;

/** Use cases on credentials: the default credential that owns a new database, and connection URLs. */
@Singleton
public final class Credentials {
    private static final int PASSWORD_LENGTH = 64;

    private final CredentialRepository repository;

    Credentials(CredentialRepository repository) {
        this.repository = repository;
    }

    /** Opens a superuser connection to a database of the instance being set up. */
    @FunctionalInterface
    public interface SuperuserConnections {
        Connection open(String database) throws SQLException;
    }

    /**
     * Creates the owner role (not a superuser, 64-character password) and {@code pgDatabase} owned
     * by it (renamed from the empty {@code placeholder} when there is one), and records them as
     * the database's default credential.
     */
    public Credential createDefault(UUID databaseId, String pgDatabase, @Nullable String placeholder, SuperuserConnections connections)
            throws SQLException {
        String username = "u" + RandomStrings.lowerAlphanumeric(13);
        String password = RandomStrings.alphanumeric(PASSWORD_LENGTH);
        try (Connection connection = connections.open("postgres")) {
            CredentialSql.createOwner(connection, username, password, pgDatabase, placeholder);
        }
        try (Connection connection = connections.open(pgDatabase)) {
            CredentialSql.prepareDatabase(connection, username);
        }
        return repository.insert(databaseId, Credential.DEFAULT, username, password);
    }

    /**
     * For a database restored from {@code sourceId}'s archive: its server already has the
     * source's owner role; it gets a new password there, and is recorded as the new database's
     * default credential. The source's password no longer opens the copy.
     */
    public Credential takeOverDefault(UUID databaseId, UUID sourceId, SuperuserConnections connections) throws SQLException {
        Credential source = repository.find(sourceId, Credential.DEFAULT).orElseThrow(() -> new IllegalStateException(
                "the source database " + sourceId + " has no default credential"));
        String password = RandomStrings.alphanumeric(PASSWORD_LENGTH);
        try (Connection connection = connections.open("postgres")) {
            CredentialSql.setPassword(connection, source.username(), password);
        }
        return repository.insert(databaseId, Credential.DEFAULT, source.username(), password);
    }

    /**
     * For a follower: its server is a read-only replica of {@code leaderId}'s, with the same roles
     * and passwords, so its default credential is its leader's.
     */
    public Credential shareDefault(UUID databaseId, UUID leaderId) {
        Credential leader = repository.find(leaderId, Credential.DEFAULT).orElseThrow(() -> new IllegalStateException(
                "the leader database " + leaderId + " has no default credential"));
        return repository.insert(databaseId, Credential.DEFAULT, leader.username(), repository.password(leader));
    }

    /** The URL of a database's credential, for a server at {@code host:port}. */
    public Optional<ConnectionUrl> url(UUID databaseId, String credentialName, String pgDatabase, String host, int port) {
        return repository.find(databaseId, credentialName)
                .map(c -> new ConnectionUrl(c.username(), repository.password(c), host, port, pgDatabase));
    }

    /** A database's credentials, {@code default} first. */
    public java.util.List<Credential> list(UUID databaseId) {
        return repository.list(databaseId);
    }

    public void deleteAll(UUID databaseId) {
        repository.deleteAll(databaseId);
    }
}
