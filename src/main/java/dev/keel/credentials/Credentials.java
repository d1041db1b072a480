package dev.keel.credentials;

import dev.keel.RandomStrings;
import dev.keel.postgres.ServerSession;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
        ServerSession open(String database) throws SQLException;
    }

    /** A name for a new owner role. */
    public static String newOwnerName() {
        return "u" + RandomStrings.lowerAlphanumeric(13);
    }

    /** A new credential's password. */
    public static String newPassword() {
        return RandomStrings.alphanumeric(PASSWORD_LENGTH);
    }

    /**
     * Creates the owner role (not a superuser, 64-character password) and {@code pgDatabase} owned
     * by it, and records them as the database's default credential.
     */
    public Credential createDefault(UUID databaseId, String pgDatabase, SuperuserConnections connections) throws SQLException {
        String username = newOwnerName();
        String password = newPassword();
        try (ServerSession session = connections.open("postgres")) {
            session.createOwner(username, password, pgDatabase);
        }
        try (ServerSession session = connections.open(pgDatabase)) {
            session.prepareDatabase(username);
        }
        return repository.insert(databaseId, Credential.DEFAULT, username, password);
    }

    /** Records an owner role a warm instance was made with as the database's default credential. */
    public Credential recordDefault(UUID databaseId, String username, String password) {
        return repository.insert(databaseId, Credential.DEFAULT, username, password);
    }

    /**
     * For a database whose server holds a copy of {@code sourceId}'s roles (a fork, a rollback, an
     * unfollowed follower): every login role on it but Keel's own is accounted for. The owner and
     * the named credentials {@code sourceId} has now get new passwords there and are recorded as
     * {@code databaseId}'s (its rows updated where it has them); every other login role (a
     * credential destroyed since the copied moment, the source's replication and dataclip roles)
     * has its sessions ended and is dropped, what it owned going to the owner. No password of the
     * source opens the copy, and no role the catalog does not know logs in to it. May run again.
     */
    public Credential adoptCopy(UUID databaseId, UUID sourceId, String pgDatabase, SuperuserConnections connections)
            throws SQLException {
        Credential owner = repository.find(sourceId, Credential.DEFAULT).orElseThrow(() -> new IllegalStateException(
                "the source database " + sourceId + " has no default credential"));
        Map<String, Credential> known = new HashMap<>();
        repository.list(sourceId).forEach(c -> known.put(c.username(), c));
        try (ServerSession server = connections.open("postgres"); ServerSession database = connections.open(pgDatabase)) {
            for (String role : server.loginRoles()) {
                Credential source = known.get(role);
                if (source == null) {
                    server.terminateSessions(role);
                    database.dropMember(role, owner.username());
                    continue;
                }
                String password = newPassword();
                server.setPassword(role, password);
                Optional<Credential> mine = repository.find(databaseId, source.name());
                if (mine.isPresent()) {
                    repository.updatePassword(mine.get(), password);
                } else {
                    repository.insert(databaseId, source.name(), role, password);
                }
            }
        }
        return repository.find(databaseId, Credential.DEFAULT).orElseThrow(() -> new IllegalStateException(
                "the copy of " + sourceId + " holds no owner role " + owner.username()));
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
    public List<Credential> list(UUID databaseId) {
        return repository.list(databaseId);
    }

    public void deleteAll(UUID databaseId) {
        repository.deleteAll(databaseId);
    }
}
