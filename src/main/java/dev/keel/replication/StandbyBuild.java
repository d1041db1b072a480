package dev.keel.replication;

import dev.keel.Network;
import dev.keel.archive.ArchiveReport;
import dev.keel.archive.Backup;
import dev.keel.databases.ServerSettings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.databases.RetiredServers;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.instances.ReplicationSlots;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.restore.StandbyRestores;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Builds a premium database's hidden HA standby: a restore of its own newest base backup and
 * archive that keeps following its primary through slot {@code standby_<id>}. The
 * {@link HaMonitor} asks for one whenever an HA database has none.
 */
@Singleton
final class StandbyBuild implements OperationHandler {
    static final String BUILDING = "building the standby";
    /** How long a build waits for another actor's lease before it gives up (a replacement holds it for seconds). */
    private static final Duration TURN_PATIENCE = Duration.ofSeconds(60);

    private final DatabaseLookup databases;
    private final Plans plans;
    private final InstanceRepository instances;
    private final InstanceMaker maker;
    private final ArchiveReport report;
    private final StandbyRestores standbys;
    private final OperationRepository operations;
    private final Network network;
    private final ReplicationSlots slots;
    private final ServerSettings serverSettings;
    private final RetiredServers retired;
    private final DatabaseLeases leases;

    StandbyBuild(DatabaseLookup databases, Plans plans, InstanceRepository instances, InstanceMaker maker, ArchiveReport report,
                 StandbyRestores standbys, OperationRepository operations, Network network,
                 ReplicationSlots slots, ServerSettings serverSettings, RetiredServers retired, DatabaseLeases leases) {
        this.leases = leases;
        this.retired = retired;
        this.serverSettings = serverSettings;
        this.slots = slots;
        this.databases = databases;
        this.plans = plans;
        this.instances = instances;
        this.maker = maker;
        this.report = report;
        this.standbys = standbys;
        this.operations = operations;
        this.network = network;
    }

    @Override
    public OperationKind kind() {
        return OperationKind.STANDBY;
    }

    /** No: a standby is built from the archive for long; the primary is not touched, and a restart in place does not wait for it. */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    /** The newest base backup a standby of {@code database} can start from, if there is one. */
    Optional<Backup> newestRestorable(Database database) {
        List<ArchiveReport.Restorable> restorable = report.restorable(database.id()).backups();
        return restorable.isEmpty() ? Optional.empty() : Optional.of(restorable.get(restorable.size() - 1).backup());
    }

    @Override
    public void run(Operation operation) throws Exception {
        awaitTurn(operation);
        // Read once the turn came: the lease's holder may have changed the plan meanwhile.
        Database database = databases.find(operation.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                .orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is no longer available; no standby is built."));
        Plan plan = plans.require(database.plan());
        if (!plan.ha() || database.following() || instances.standby(database.id()).isPresent()) {
            operations.progress(operation.id(), "no standby needed", 1, 1);
            return;
        }
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no primary to build a standby of."));
        Backup backup = newestRestorable(database).orElseThrow(() -> new KeelException(ProblemType.NO_BACKUP,
                database.name() + " has no restorable base backup yet; the standby is built once its first backup completes."));
        Instance standby = standbys.build(new StandbyRestores.Standby(database.id(), InstanceRole.STANDBY, database.major(),
                        database.id(), primary, ReplicationSlots.forStandby(database.id()), backup, serverSettings.of(database),
                        plan.connections(), InstanceConfig.hba(database.pgDatabase(), network.keelSources())),
                (step, done, total, unit) -> operations.progress(operation.id(), BUILDING + ": " + step, done, total, unit),
                () -> stillWanted(database.id()));
        instances.transition(standby.id(), InstanceState.RUNNING);
        operations.progress(operation.id(), "standby streaming", 1, 1);
    }

    /**
     * Waits until no other actor holds the database's lease (taking it for a moment): a standby's
     * replacement records this build before it removes the old standby, under the lease
     * ({@code HaMonitor.replaceStandby}), and a build that started beside that removal would have
     * its new slot dropped with the old one's. The build itself holds no lease ({@link #holdsDatabase}).
     */
    private void awaitTurn(Operation operation) throws InterruptedException {
        Optional<DatabaseLeases.Lease> turn = leases.acquire(operation.databaseId(), "standby build " + operation.id(), TURN_PATIENCE,
                () -> stillWanted(operation.databaseId()));
        if (turn.isEmpty() && !stillWanted(operation.databaseId())) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "The database is no longer available; no standby is built.");
        }
        turn.orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is busy: "
                + leases.holder(operation.databaseId()).orElse("another actor") + " is changing its servers; the HA monitor asks for"
                + " its standby again later.")).close();
    }

    private boolean stillWanted(UUID database) {
        return databases.find(database).map(d -> d.state() == DatabaseState.AVAILABLE).orElse(false);
    }

    /**
     * Removes the database's standby after its plan lost HA: the catalog first (so nothing
     * promotes it any more), then its server and data (by the node that hosts it), then its slot
     * on the primary.
     */
    void remove(Database database) throws SQLException {
        for (Instance standby : instances.forDatabase(database.id())) {
            if (standby.role() == InstanceRole.STANDBY) {
                retired.discard(database, standby);
            }
        }
        String slot = ReplicationSlots.forStandby(database.id());
        Optional<Instance> primary = instances.primary(database.id());
        if (primary.isPresent()) {
            slots.drop(primary.get(), slot);
        } else {
            slots.forget(slot);
        }
    }

    /** Leaves a standby another node was making when it fell silent to that node to remove when it returns. */
    void abandon(Database database, Instance standby) {
        retired.discard(database, standby);
    }

    @Override
    public Decision recover(Operation operation) {
        instances.standby(operation.databaseId()).filter(i -> i.state() == InstanceState.CREATING).ifPresent(maker::discard);
        return Decision.giveUp(operation, "abandoning the standby build Keel stopped during; the HA monitor builds another");
    }
}
