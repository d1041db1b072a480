package dev.keel.credentials;

import dev.keel.RandomStrings;
import dev.keel.postgres.ServerSession;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.event.ApplicationEventPublisher;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Named credentials and rotation, as Heroku's {@code pg:credentials:*}: a named credential is a
 * login role that may connect and has no table privileges until the owner grants them; rotation
 * gives any credential a new password at once; destroying one drops its role. The caller checks
 * what the plan and the attachments allow, and runs these against the database's primary.
 */
@Singleton
public final class CredentialChanges {
    private static final int PASSWORD_LENGTH = 64;
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{1,47}");
    private static final Set<String> RESERVED = Set.of(Credential.DEFAULT, "postgres", "keel", "public", "replication", "all");
    private static final List<String> RESERVED_PREFIXES = List.of("pg_", "follower_", "standby_", "dataclips_", "keel_");

    private final CredentialRepository repository;
    private final ApplicationEventPublisher<CredentialRotated> rotations;

    CredentialChanges(CredentialRepository repository, ApplicationEventPublisher<CredentialRotated> rotations) {
        this.repository = repository;
        this.rotations = rotations;
    }

    /** A rotated credential and how many of its sessions were ended. */
    public record Rotated(Credential credential, int sessionsEnded) {
    }

    /** The credential {@code name} of a database; 404 naming the ones it has otherwise. */
    public Credential require(UUID databaseId, String name) {
        return repository.find(databaseId, name).orElseThrow(() -> KeelException.notFound("credential", name)
                .with("valid_values", repository.list(databaseId).stream().map(Credential::name).toList()));
    }

    /** Creates credential {@code name}: role {@code name}, which may connect to {@code pgDatabase} and nothing more. */
    public Credential create(UUID databaseId, String pgDatabase, String name, Credentials.SuperuserConnections connections)
            throws SQLException {
        requireValidName(name);
        if (repository.find(databaseId, name).isPresent()) {
            throw new KeelException(ProblemType.NAME_TAKEN, "The database already has a credential named " + name
                    + "; choose another name, or rotate that one.");
        }
        String password = RandomStrings.alphanumeric(PASSWORD_LENGTH);
        try (ServerSession session = connections.open("postgres")) {
            if (session.roleExists(name)) {
                throw new KeelException(ProblemType.NAME_TAKEN, "The database's server already has a role named " + name
                        + " (made before Keel knew it, or copied by a fork); choose another name.");
            }
            session.createMember(name, password, pgDatabase);
        }
        return repository.insert(databaseId, name, name, password);
    }

    /**
     * A new password for {@code name}, in force at once; the old one no longer logs in. The
     * rows in {@code sharing} (followers, which have the same roles) learn it too. With
     * {@code force}, the role's sessions are ended; otherwise they go on until they disconnect.
     */
    public Rotated rotate(UUID databaseId, String name, boolean force, List<UUID> sharing, Credentials.SuperuserConnections connections)
            throws SQLException {
        Credential credential = require(databaseId, name);
        String password = RandomStrings.alphanumeric(PASSWORD_LENGTH);
        int ended = 0;
        try (ServerSession session = connections.open("postgres")) {
            session.setPassword(credential.username(), password);
            repository.updatePassword(credential, password);
            for (UUID other : sharing) {
                repository.find(other, name).filter(c -> c.username().equals(credential.username()))
                        .ifPresent(c -> repository.updatePassword(c, password));
            }
            if (force) {
                ended = session.terminateSessions(credential.username());
            }
        }
        rotations.publishEvent(new CredentialRotated(databaseId, name));
        return new Rotated(credential, ended);
    }

    /** The credential {@code name}, which may be destroyed: it exists (404) and is not the default one (422). */
    public Credential requireDestroyable(UUID databaseId, String name) {
        if (Credential.DEFAULT.equals(name)) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "The default credential owns the database and cannot be destroyed;"
                    + " rotate it instead.");
        }
        return require(databaseId, name);
    }

    /** Drops credential {@code name}'s role (what it owns goes to the owner) and forgets it; never the default one. */
    public void destroy(UUID databaseId, String pgDatabase, String name, Credentials.SuperuserConnections connections) throws SQLException {
        Credential credential = requireDestroyable(databaseId, name);
        Credential owner = require(databaseId, Credential.DEFAULT);
        try (ServerSession session = connections.open("postgres")) {
            // Closed first: a role with sessions cannot be dropped, and the password must stop working anyway.
            session.setPassword(credential.username(), RandomStrings.alphanumeric(PASSWORD_LENGTH));
            session.terminateSessions(credential.username());
        }
        try (ServerSession session = connections.open(pgDatabase)) {
            if (session.roleExists(credential.username())) {
                session.dropMember(credential.username(), owner.username());
            }
        }
        repository.delete(credential);
    }

    private static void requireValidName(String name) {
        if (name == null || !NAME.matcher(name).matches() || RESERVED.contains(name)
                || RESERVED_PREFIXES.stream().anyMatch(name::startsWith)) {
            throw new KeelException(ProblemType.INVALID_NAME, "A credential name is 2 to 48 characters: lowercase letters, digits and"
                    + " underscores, starting with a letter; not default, postgres, keel, public, replication or all, and not"
                    + " starting with pg_, follower_, standby_, dataclips_ or keel_.");
        }
    }
}
