package dev.keel.replication;

import dev.keel.Network;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BaseBackups;
import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.ReplicationSlots;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.postgres.HbaRule;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Moving a database to its standby: unplanned ({@link #failOver}, when the {@link HaMonitor}
 * decides so) or planned ({@code POST /v1/databases/{id}/failover}, a switchover that loses no
 * committed transaction). Either way the old primary is fenced in the catalog and killed before
 * the standby is promoted, the database's URL names the new primary from the catalog switch on,
 * followers are re-pointed, and a base backup of the new timeline is taken, from which the
 * monitor builds the next standby.
 */
@Singleton
final class Failover implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(Failover.class);
    static final String DRAINING = "draining the primary";
    static final List<String> STEPS = List.of(DRAINING, "fencing the old primary", "promoting the standby",
            "configuring the new primary", "re-pointing followers", "taking a base backup");
    private static final long CATCH_UP_MILLIS = 30_000;

    private final DatabaseLookup databases;
    private final Plans plans;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final InstanceMaker maker;
    private final ReplicationSlots slots;
    private final Followers followers;
    private final BaseBackups backups;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final Network network;
    private final DSLContext dsl;

    Failover(DatabaseLookup databases, Plans plans, InstanceRepository instances, InstanceRuntime runtime, InstanceConnections connections,
             InstanceMaker maker, ReplicationSlots slots, Followers followers, BaseBackups backups, OperationRepository operations,
             OperationRunner runner, Network network, DSLContext dsl) {
        this.databases = databases;
        this.plans = plans;
        this.instances = instances;
        this.runtime = runtime;
        this.connections = connections;
        this.maker = maker;
        this.slots = slots;
        this.followers = followers;
        this.backups = backups;
        this.operations = operations;
        this.runner = runner;
        this.network = network;
        this.dsl = dsl;
    }

    @Override
    public OperationKind kind() {
        return OperationKind.FAILOVER;
    }

    /** Accepts a planned switchover of the caller's database {@code idOrName}. */
    Accepted accept(Caller caller, String idOrName) {
        Database database = databases.requireAvailable(caller, idOrName);
        if (!plans.require(database.plan()).ha() || database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " has no HA standby to fail over to: only a database"
                    + " on a plan with HA (such as premium-0) has one, and a follower never does.");
        }
        instances.standby(database.id()).filter(s -> s.state() == dev.keel.instances.InstanceState.RUNNING)
                .orElseThrow(() -> new KeelException(ProblemType.CONFLICT, database.name() + " has no standby ready yet (GET"
                        + " /v1/databases/" + database.name() + "/info shows its HA status); try again once it is available."));
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), caller.teamId(), database.id(),
                OperationKind.FAILOVER, DRAINING, STEPS.size()));
        runner.submit(operation);
        return new Accepted(database, operation);
    }

    /**
     * The planned switchover: the primary stops taking writes and shuts down cleanly, which sends
     * its standby every last bit of WAL; only once the standby has received past the primary's
     * last position does it become the primary.
     */
    @Override
    public void run(Operation operation) throws Exception {
        Database database = databases.find(operation.databaseId()).orElseThrow();
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.CONFLICT,
                database.name() + " has no primary."));
        Instance standby = instances.standby(database.id()).orElseThrow(() -> new KeelException(ProblemType.CONFLICT,
                database.name() + " lost its standby meanwhile; nothing changed."));
        Plan plan = plans.require(database.plan());
        List<HbaRule> hba = InstanceConfig.hba(database.pgDatabase(), network.localHost());
        Map<String, String> settings = maker.settings(primary, Plans.serverSettings(plan));
        Map<String, String> readOnly = new java.util.LinkedHashMap<>(settings);
        readOnly.put("default_transaction_read_only", "on");
        runtime.configure(primary, readOnly, hba);
        String last;
        try (Connection connection = connections.open(primary, "postgres"); Statement sql = connection.createStatement()) {
            sql.execute("select pg_reload_conf()");
            sql.execute("select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend'"
                    + " and pid <> pg_backend_pid()");
            try (ResultSet row = sql.executeQuery("select pg_current_wal_lsn()")) {
                row.next();
                last = row.getString(1);
            }
        }
        runtime.stop(primary); // the shutdown checkpoint, after everything committed, goes to the standby before the walsender exits
        if (!receivedPast(standby, last)) {
            runtime.configure(primary, settings, hba);
            runtime.start(primary);
            throw new KeelException(ProblemType.UNAVAILABLE, "The standby did not receive the primary's last WAL (past " + last
                    + ") within " + CATCH_UP_MILLIS / 1000 + " s, so Keel kept the primary; nothing changed. Its HA status says why.");
        }
        complete(operation, database, primary, standby, "switched over: the standby had received all of the primary's WAL (past "
                + last + ")");
    }

    private boolean receivedPast(Instance standby, String lsn) throws SQLException, InterruptedException {
        long deadline = System.currentTimeMillis() + CATCH_UP_MILLIS;
        try (Connection connection = connections.open(standby, "postgres");
             PreparedStatement query = connection.prepareStatement("select pg_wal_lsn_diff(pg_last_wal_receive_lsn(), ?::pg_lsn) > 0")) {
            query.setString(1, lsn);
            while (System.currentTimeMillis() < deadline) {
                try (ResultSet row = query.executeQuery()) {
                    if (row.next() && row.getBoolean(1)) {
                        return true;
                    }
                }
                Thread.sleep(50);
            }
        }
        return false;
    }

    /** The unplanned failover the monitor decided on, recorded as an operation that carries its reason. */
    UUID failOver(Database database, Instance primary, Instance standby, HaDecision decision) {
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), database.teamId(), database.id(),
                OperationKind.FAILOVER, decision.sentence(), STEPS.size()));
        try {
            complete(operation, database, primary, standby, "failed over: " + decision.sentence());
            operations.succeed(operation.id());
        } catch (Exception e) {
            LOG.error("Failover of {} failed; the HA monitor looks again", database.name(), e);
            operations.fail(operation.id(), "The failover stopped: " + e.getMessage() + "; the HA monitor looks again.");
        }
        return operation.id();
    }

    /** Fences the old primary, promotes the standby and makes it the database's primary, with everything that points at it. */
    private void complete(Operation operation, Database database, Instance oldPrimary, Instance standby, String outcome)
            throws Exception {
        step(operation, 1);
        // Fenced in the catalog first, so that no Keel start serves it again, then killed; the URL names no server
        // until the standby is promoted and made the primary.
        instances.transition(oldPrimary.id(), dev.keel.instances.InstanceState.FENCED);
        runtime.fence(oldPrimary);
        step(operation, 2);
        Instance primary = promote(standby);
        step(operation, 3);
        Plan plan = plans.require(database.plan());
        runtime.configure(primary, maker.settings(primary, Plans.serverSettings(plan)),
                InstanceConfig.hba(database.pgDatabase(), network.localHost()));
        try (Connection connection = connections.open(primary, "postgres"); Statement sql = connection.createStatement()) {
            sql.execute("select pg_reload_conf()");
        }
        slots.forget(ReplicationSlots.forStandby(database.id())); // it lived on the fenced primary
        step(operation, 4);
        for (Database follower : databases.followers(database.id())) {
            if (follower.state() == DatabaseState.AVAILABLE) {
                followers.repoint(follower, database, primary);
            }
        }
        step(operation, 5);
        backups.start(databases.find(database.id()).orElseThrow(), BackupKind.INITIAL);
        operations.progress(operation.id(), outcome, STEPS.size(), STEPS.size());
        LOG.warn("Database {}: {}; its primary is now instance {} on port {}", database.name(), outcome, primary.id(), primary.port());
    }

    /** Promotes the standby (unless it already is) and makes it the database's primary in the catalog. */
    private Instance promote(Instance standby) throws SQLException {
        try (Connection connection = connections.open(standby, "postgres")) {
            Promotion.promote(connection, "the standby");
        }
        return instances.makePrimary(standby.id());
    }

    /** Promotes a standby that a failover Keel stopped during left behind, after its old primary was fenced. */
    void finishPromotion(Instance standby) throws SQLException {
        promote(standby);
    }

    private void step(Operation operation, int index) {
        operations.progress(operation.id(), STEPS.get(index), index, STEPS.size());
    }

    @Override
    public Decision recover(Operation operation) {
        return Decision.giveUp(operation, "Keel stopped during this failover at step '" + operation.step() + "'; the HA monitor finishes"
                + " it from what it finds (a fenced old primary stays fenced; a new primary still in recovery is promoted)");
    }
}
