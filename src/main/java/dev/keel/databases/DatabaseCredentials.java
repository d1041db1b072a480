package dev.keel.databases;

import dev.keel.auth.Caller;
import dev.keel.credentials.Credential;
import dev.keel.credentials.CredentialChanges;
import dev.keel.credentials.CredentialUses;
import dev.keel.credentials.Credentials;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.operations.DatabaseLeases;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * {@code /v1/databases/{id}/credentials}: the plan and the database's role decide what may be
 * done ({@code essential} has the default credential only; a follower serves its leader's roles,
 * managed on the leader), then {@link CredentialChanges} does it on the primary, under the
 * database's lease: a failover, switchover or plan change moving the primary meanwhile would
 * have the change made on a server that is no longer it.
 */
@Singleton
public final class DatabaseCredentials {
    private final DatabaseLookup databases;
    private final Plans plans;
    private final Credentials credentials;
    private final CredentialChanges changes;
    private final CredentialUses uses;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final DatabaseLeases leases;

    DatabaseCredentials(DatabaseLookup databases, Plans plans, Credentials credentials, CredentialChanges changes, CredentialUses uses,
                        InstanceRepository instances, InstanceConnections connections, DatabaseLeases leases) {
        this.leases = leases;
        this.databases = databases;
        this.plans = plans;
        this.credentials = credentials;
        this.changes = changes;
        this.uses = uses;
        this.instances = instances;
        this.connections = connections;
    }

    /** A credential as the API shows it: {@code apps} are the apps attached through it. */
    @Serdeable
    public record View(String name, String user, String state, List<String> apps, OffsetDateTime createdAt) {
    }

    /** A rotation's answer: the credential, and how many sessions a forced rotation ended. */
    @Serdeable
    public record RotatedView(String name, String user, String state, List<String> apps, int sessionsEnded) {
    }

    public List<View> list(Caller caller, String idOrName) {
        Database database = databases.require(caller, idOrName);
        return credentials.list(database.credentialsOwner()).stream().map(c -> view(database, c)).toList();
    }

    public View create(Caller caller, String idOrName, @Nullable String name) throws SQLException {
        Database database = changeable(caller, idOrName);
        if (!plans.require(database.plan()).namedCredentials()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is on plan " + database.plan()
                    + ", which has only the default credential; change to a standard or premium plan to create more.");
        }
        try (DatabaseLeases.Lease lease = lease(database)) {
            Instance primary = primary(database);
            return view(database, changes.create(database.id(), database.pgDatabase(), name, db -> connections.open(primary, db)));
        }
    }

    public RotatedView rotate(Caller caller, String idOrName, String name, boolean force) throws SQLException {
        Database database = changeable(caller, idOrName);
        try (DatabaseLeases.Lease lease = lease(database)) {
            Instance primary = primary(database);
            List<UUID> followers = databases.followers(database.id()).stream().map(Database::id).toList();
            CredentialChanges.Rotated rotated = changes.rotate(database.id(), name, force, followers, db -> connections.open(primary, db));
            View view = view(database, rotated.credential());
            return new RotatedView(view.name(), view.user(), view.state(), view.apps(), rotated.sessionsEnded());
        }
    }

    public void destroy(Caller caller, String idOrName, String name) throws SQLException {
        Database database = changeable(caller, idOrName);
        changes.requireDestroyable(database.id(), name);
        List<String> apps = uses.apps(database.id(), name);
        if (!apps.isEmpty()) {
            throw new KeelException(ProblemType.CREDENTIAL_ATTACHED, "Credential " + name + " is attached to " + String.join(", ", apps)
                    + "; detach it first.").with("apps", apps);
        }
        try (DatabaseLeases.Lease lease = lease(database)) {
            Instance primary = primary(database);
            changes.destroy(database.id(), database.pgDatabase(), name, db -> connections.open(primary, db));
        }
    }

    /**
     * The database's lease for this one change. Its statements' commits, should they wait for a
     * dead standby, are let go by the HA monitor although it holds the lease.
     */
    private DatabaseLeases.Lease lease(Database database) {
        return leases.acquireForRequest(database.id(), database.name(), "credential change");
    }

    private Database changeable(Caller caller, String idOrName) {
        Database database = databases.requireAvailable(caller, idOrName);
        if (database.following()) {
            String leader = databases.find(database.leaderId()).map(Database::name).orElse("its leader");
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower and serves the credentials of "
                    + leader + "; create, rotate or destroy them on " + leader + ".");
        }
        return database;
    }

    private Instance primary(Database database) {
        return instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no running server; try again once it is available."));
    }

    private View view(Database database, Credential credential) {
        return new View(credential.name(), credential.username(), credential.state(), uses.apps(database.id(), credential.name()),
                credential.createdAt());
    }
}
