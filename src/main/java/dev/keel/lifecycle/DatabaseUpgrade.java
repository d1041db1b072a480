package dev.keel.lifecycle;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.Reconfiguration;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * An online major-version upgrade, as one operation: checks; {@code wal_level=logical} and this
 * version's pg_hba on the old server (a restart only for servers made before Keel set logical
 * everywhere, a reload otherwise); the new server
 * ({@link UpgradeTarget}); its rows by logical replication ({@link LogicalCopy}); the switch in a
 * short write pause ({@link UpgradeSwitch}); then the aftermath ({@link UpgradeAftermath}). Until
 * the switch the database serves from its old server and a failure removes everything the upgrade
 * made; after it the database runs on the new major, and whatever is left of the aftermath is done
 * again when the operation resumes. A dry run does all of it to a throw-away fork ({@link UpgradeDryRun}).
 */
@Singleton
public final class DatabaseUpgrade implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseUpgrade.class);
    static final String CHECKING = "checking what logical replication can carry";
    static final String LOGICAL = "restarting the old server with wal_level logical";
    static final String MAKING = "making the new server";
    static final String DEFINITIONS = "copying roles, settings and schema";
    static final String COPYING = "copying tables";
    static final String CATCHING_UP = "catching up";
    static final String SWITCHING = "switching (writes paused)";
    static final List<String> STEPS = List.of(CHECKING, LOGICAL, MAKING, DEFINITIONS, COPYING, CATCHING_UP, SWITCHING,
            UpgradeAftermath.RETIRING, UpgradeAftermath.BACKING_UP, UpgradeAftermath.FOLLOWERS);
    private static final long CAUGHT_UP_BYTES = 1024 * 1024;

    private final UpgradeRepository upgrades;
    private final DatabaseLookup databases;
    private final ServerSettings serverSettings;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Reconfiguration reconfiguration;
    private final InstanceMaker maker;
    private final UpgradeChecks checks;
    private final UpgradeTarget target;
    private final LogicalCopy logical;
    private final UpgradeSwitch switcher;
    private final UpgradeAftermath aftermath;
    private final UpgradeDryRun dryRun;
    private final OperationRepository operations;

    DatabaseUpgrade(UpgradeRepository upgrades, DatabaseLookup databases, ServerSettings serverSettings, InstanceRepository instances,
                    InstanceConnections connections, Reconfiguration reconfiguration, InstanceMaker maker,
                    UpgradeChecks checks, UpgradeTarget target, LogicalCopy logical, UpgradeSwitch switcher, UpgradeAftermath aftermath,
                    UpgradeDryRun dryRun, OperationRepository operations) {
        this.upgrades = upgrades;
        this.databases = databases;
        this.serverSettings = serverSettings;
        this.instances = instances;
        this.connections = connections;
        this.reconfiguration = reconfiguration;
        this.maker = maker;
        this.checks = checks;
        this.target = target;
        this.logical = logical;
        this.switcher = switcher;
        this.aftermath = aftermath;
        this.dryRun = dryRun;
        this.operations = operations;
    }

    @Override
    public OperationKind kind() {
        return OperationKind.UPGRADE;
    }

    /**
     * No: an upgrade copies for hours (a dry run works on a throw-away fork), and the HA monitor
     * must go on restarting, failing over and relaxing synchronous commit meanwhile. Only its
     * switch changes the database's instances; taking the lease around that step is still to do.
     */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Upgrade upgrade = upgrades.forOperation(operation.id()).orElseThrow();
        try {
            String outcome = upgrade.dryRun() ? dryRun.run(upgrade, (name, index) -> step(operation, name))
                    : upgrade(upgrade, databases.find(upgrade.databaseId()).orElseThrow(), name -> step(operation, name));
            upgrades.finish(upgrade.id(), UpgradeState.COMPLETED, outcome);
            operations.progress(operation.id(), outcome, STEPS.size(), STEPS.size());
        } catch (Exception e) {
            String reason = e instanceof KeelException ? e.getMessage()
                    : "The upgrade failed; Keel's log has the details under operation " + operation.id() + ".";
            upgrades.finish(upgrade.id(), UpgradeState.FAILED, reason);
            throw e;
        }
    }

    /** Upgrades {@code database} (the real one, or a dry run's copy); returns the sentence that says how it went. */
    String upgrade(Upgrade upgrade, Database database, Consumer<String> step) throws Exception {
        if (switched(database, upgrade.toMajor())) {
            return finish(upgrade, database, step, "finished the upgrade Keel stopped during");
        }
        step.accept(CHECKING);
        checks.check(database);
        Instance old = instances.primary(database.id()).orElseThrow();
        ensureLogical(database, old, step);
        step.accept(MAKING);
        UpgradeTarget.Made made = target.make(database, old, upgrade.toMajor());
        Instance server = made.server();
        long pause;
        try {
            step.accept(DEFINITIONS);
            target.copyDefinitions(database, old, server);
            step.accept(COPYING);
            logical.start(database, old, server);
            logical.awaitCopied(database, server, (ready, total) -> step.accept(COPYING + " (" + ready + " of " + total + " tables)"));
            step.accept(CATCHING_UP);
            logical.refreshViews(database, server);
            while (logical.behind(database, old) > CAUGHT_UP_BYTES) {
                Thread.sleep(100);
            }
            step.accept(SWITCHING);
            pause = switcher.switchOver(database, old, server);
        } catch (Exception e) {
            if (!switched(database, upgrade.toMajor())) {
                logical.remove(database, old, server);
                maker.discard(server);
            }
            throw e;
        }
        upgrades.writePause(upgrade.id(), pause);
        LOG.info("Database {} switched to Postgres {}: writes paused {} ms", database.name(), upgrade.toMajor(), pause);
        return finish(upgrade, database, step, "upgraded from Postgres " + upgrade.fromMajor() + " to " + upgrade.toMajor()
                + "; writes paused " + String.format(Locale.ROOT, "%.1f", pause / 1000.0) + " s");
    }

    private String finish(Upgrade upgrade, Database database, Consumer<String> step, String done) throws Exception {
        if (upgrade.dryRun()) {
            return done;
        }
        int rebuilding = aftermath.finish(database, step);
        return done + (rebuilding == 0 ? "" : "; " + rebuilding + " follower" + (rebuilding == 1 ? " is" : "s are")
                + " being rebuilt on the new major where " + (rebuilding == 1 ? "it runs" : "each runs") + " (a rebuild operation of "
                + (rebuilding == 1 ? "its" : "their") + " own)");
    }

    /** Whether the catalog names a server of the target major the primary and no upgrade server is left. */
    private boolean switched(Database database, int toMajor) {
        return instances.upgrading(database.id()).isEmpty()
                && instances.primary(database.id()).map(p -> p.major() == toMajor).orElse(false);
    }

    /**
     * The old server configured as this version makes servers, before the stream's role exists: its
     * pg_hba (one written by an earlier version would admit that role from anywhere), and
     * wal_level logical, which logical decoding needs and which takes a restart on servers made
     * with replica, before Keel set it everywhere; otherwise a reload (a setting that would need a
     * restart waits for the next one). Either fails, saying why, when the server refuses the new
     * pg_hba, leaving it with the rules it had, not restarted.
     */
    private void ensureLogical(Database database, Instance old, Consumer<String> step) throws Exception {
        String level;
        try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
            level = UpgradeSql.value(connection, String.class, "select pg_catalog.current_setting('wal_level')");
        }
        Map<String, String> settings = maker.settings(old, serverSettings.of(database));
        if (!"logical".equals(level)) {
            step.accept(LOGICAL);
            reconfiguration.restart(old, settings, target.hba(database));
        } else {
            reconfiguration.reload(old, settings, target.hba(database)); // never a restart here: the database serves on
        }
    }

    private void step(Operation operation, String name) {
        int index = STEPS.stream().filter(name::startsWith).findFirst().map(STEPS::indexOf).orElse(0);
        operations.progress(operation.id(), name, index, STEPS.size());
    }

    /**
     * An upgrade Keel stopped during: after the switch, it resumes and finishes the aftermath;
     * before, what it made is removed (the old server never stopped serving) and it is failed.
     */
    @Override
    public Decision recover(Operation operation) {
        Optional<Upgrade> upgrade = upgrades.forOperation(operation.id());
        Optional<Database> database = upgrade.flatMap(u -> databases.find(u.databaseId()));
        if (upgrade.isEmpty() || database.isEmpty()) {
            upgrade.ifPresent(u -> upgrades.finish(u.id(), UpgradeState.FAILED, "the database is gone"));
            return Decision.giveUp(operation, "abandoning the upgrade: its database is gone");
        }
        if (!upgrade.get().dryRun() && switched(database.get(), upgrade.get().toMajor())) {
            return Decision.resume(operation, "finishing the upgrade Keel stopped during after its switch: retiring the old server,"
                    + " the first backup, followers");
        }
        String reason = "Keel stopped during this upgrade before it switched; the database serves on its old server as before."
                + " Ask again.";
        instances.upgrading(database.get().id()).ifPresent(server -> {
            instances.primary(database.get().id()).ifPresent(old -> logical.remove(database.get(), old, server));
            maker.discard(server);
        });
        if (upgrade.get().dryRun()) {
            dryRun.abandon(upgrade.get());
        }
        upgrades.finish(upgrade.get().id(), UpgradeState.FAILED, reason);
        return Decision.giveUp(operation, "removed what the interrupted upgrade had made before its switch");
    }
}
