package dev.keel.lifecycle;

import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.credentials.FailoverUrl;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.DatabaseView;
import dev.keel.databases.FailoverUrls;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.PublicHosts;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.replication.Followers;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;

/** Assembles {@link DatabaseView}s: the row, the running operation, the primary's URL, the instances and their nodes. */
@Singleton
public final class DatabaseViews {
    private final DatabaseRepository databases;
    private final OperationRepository operations;
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final PublicHosts hosts;
    private final Followers followers;
    private final FailoverUrls failoverUrls;

    DatabaseViews(DatabaseRepository databases, OperationRepository operations, InstanceRepository instances, Credentials credentials,
                  PublicHosts hosts, Followers followers, FailoverUrls failoverUrls) {
        this.followers = followers;
        this.failoverUrls = failoverUrls;
        this.databases = databases;
        this.operations = operations;
        this.instances = instances;
        this.credentials = credentials;
        this.hosts = hosts;
    }

    public DatabaseView of(Database db) {
        return of(db, null);
    }

    /** The view of {@code db} with {@code started} as its progress: an operation just accepted, as it was announced. */
    public DatabaseView of(Database db, @Nullable Operation started) {
        // The database's own lifecycle, while the state says it is under way (a provisioning
        // operation still finishing its last step after `available` is no longer news); backups
        // and other work report on their own resources.
        Set<OperationKind> lifecycle = switch (db.state()) {
            case CREATING -> EnumSet.of(OperationKind.PROVISION, OperationKind.RESTORE);
            case AVAILABLE -> EnumSet.of(OperationKind.UNFOLLOW, OperationKind.PLAN_CHANGE, OperationKind.REBUILD, OperationKind.RECONFIGURE,
                    OperationKind.REMAKE);
            case DELETING -> EnumSet.of(OperationKind.DEPROVISION);
            default -> EnumSet.noneOf(OperationKind.class);
        };
        Optional<Operation> running = started != null ? Optional.of(started) : lifecycle.isEmpty() ? Optional.empty()
                : operations.running(db.id(), lifecycle);
        DatabaseView.Progress progress = running.map(DatabaseViews::progress).orElse(null);
        // A primary a remake is making has no URL until it is promoted and running, as a failover's standby has none.
        boolean remaking = running.filter(op -> op.kind() == OperationKind.REMAKE).isPresent();
        String url = db.state() != DatabaseState.AVAILABLE ? null
                : instances.primary(db.id()).filter(primary -> !remaking || primary.state() == InstanceState.RUNNING)
                .flatMap(primary -> credentials.url(db.id(), Credential.DEFAULT, db.pgDatabase(), hosts.of(primary.node()), primary.port()))
                .map(ConnectionUrl::toString)
                .orElse(null);
        FailoverUrl failover = url == null ? null : failoverUrls.withStandby(db, Credential.DEFAULT).orElse(null);
        DatabaseView.Ref leader = !db.following() ? null
                : databases.find(db.leaderId()).map(DatabaseView.Ref::of).orElse(null);
        Followers.Lag lag = leader != null && db.state() == DatabaseState.AVAILABLE ? followers.lag(db) : null;
        return new DatabaseView(db.id(), db.name(), db.plan(), Integer.toString(db.major()), db.state().value(), db.stateReason(),
                db.stateCode(), db.stateRetryable(),
                progress, url, failover == null ? null : failover.libpq(), failover == null ? null : failover.jdbc(), databases.origin(db.id()).map(o -> DatabaseView.Origin.of(o, db.createdAt())).orElse(null),
                leader, lag == null ? null : lag.bytes(), lag == null ? null : lag.seconds(), lag == null ? null : lag.status(),
                databases.followers(db.id()).stream().filter(f -> f.state() != DatabaseState.DELETING).map(DatabaseView.Ref::of).toList(),
                followers.haStatus(db), instances.forDatabase(db.id()).stream().map(DatabaseView.InstanceRef::of).toList(),
                db.createdAt(), db.updatedAt());
    }

    private static DatabaseView.Progress progress(Operation op) {
        return new DatabaseView.Progress(op.id(), op.kind().value(), op.step(), op.done(), op.total(), op.unit());
    }
}
