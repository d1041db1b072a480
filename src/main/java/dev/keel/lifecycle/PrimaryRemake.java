package dev.keel.lifecycle;

import dev.keel.Network;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BaseBackups;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.RetiredServers;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.StepCode;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.ServerSession;
import dev.keel.problems.Failure;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.replication.Followers;
import dev.keel.restore.PrimaryRestores;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

/**
 * A primary whose node an operator forgot ({@link NodeForgetting}), made anew on this node from
 * its database's own archive: its newest base backup, replayed through the last WAL its receiver
 * stored, and promoted onto a new timeline. The database keeps its name, credentials and
 * attachments; its URL names this node. Then the old server's row goes (its node, should it
 * return, sets its data aside), its followers follow the new primary, and a base backup of the
 * new timeline is taken. Each step may run again: a resumed remake keeps a primary it had made,
 * or that Postgres promoted (finished as its restore would have), and makes anew one that was
 * still being made or recovering, removing first one it had begun to remove.
 */
@Singleton
final class PrimaryRemake implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(PrimaryRemake.class);
    static final int STEP_COUNT = 5;

    /** The steps of a remake, in order; a resumed one goes by what the catalog holds, and shows the codes. */
    enum Step implements StepCode {
        DECIDED("decided", "making the primary anew from the archive", 0),
        RESTORING("restoring", "restoring the archive", 1),
        FORGETTING("forgetting-old", "forgetting the lost server", 2),
        REPOINTING("repointing-followers", "re-pointing followers", 3),
        BACKING_UP("backup", "taking a base backup", 4);

        private final String code;
        private final String sentence;
        private final int done;

        Step(String code, String sentence, int done) {
            this.code = code;
            this.sentence = sentence;
            this.done = done;
        }

        @Override
        public String code() {
            return code;
        }

        String sentence() {
            return sentence;
        }
    }

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final RetiredServers retired;
    private final PrimaryRestores restores;
    private final Followers followers;
    private final BaseBackups backups;
    private final OperationRepository operations;
    private final ServerSettings serverSettings;
    private final Network network;
    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final PostgresBinaries binaries;
    private final String node;

    PrimaryRemake(DatabaseLookup databases, InstanceRepository instances, RetiredServers retired, PrimaryRestores restores,
                  Followers followers, BaseBackups backups, OperationRepository operations, ServerSettings serverSettings,
                  Network network, InstanceRuntime runtime, InstanceConnections connections, PostgresBinaries binaries, ThisNode node) {
        this.runtime = runtime;
        this.connections = connections;
        this.binaries = binaries;
        this.databases = databases;
        this.instances = instances;
        this.retired = retired;
        this.restores = restores;
        this.followers = followers;
        this.backups = backups;
        this.operations = operations;
        this.serverSettings = serverSettings;
        this.network = network;
        this.node = node.name();
    }

    @Override
    public OperationKind kind() {
        return OperationKind.REMAKE;
    }

    @Override
    public void run(Operation operation) throws Exception {
        try {
            remake(operation);
        } catch (Exception e) {
            // What failed, where it may be shown, and what to do: the database has no primary until a remake succeeds.
            Failure failure = Failure.of(e, "Making the primary anew failed; Keel's log has the details under operation " + operation.id()
                    + ".");
            ProblemType type = e instanceof KeelException keel && keel.type().safeToShow() ? keel.type() : ProblemType.RESTORE_FAILED;
            throw new KeelException(type, failure.reason(900) + " Forget the node again (POST /v1/nodes/{name}/forget) to try once"
                    + " more.", e);
        }
    }

    private void remake(Operation operation) throws Exception {
        Database database = available(operation).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is"
                + " no longer available (deleted, or being deleted); nothing was made."));
        retired.removeHere(database.id()); // a half-made server marked for removal below when Keel stopped, not removed yet
        Optional<Instance> live = instances.primary(database.id());
        // A server this node was making when Keel stopped (this operation's own).
        boolean making = live.isPresent() && node.equals(live.get().node()) && live.get().state() == InstanceState.CREATING;
        Instance made;
        if (making && promoted(live.get())) {
            // Promoted before Keel stopped (or by Postgres since), so it may have taken writes through DATABASE_URL already: kept,
            // and given what its restore gives a promoted server.
            restores.finishPromoted(live.get(), lost(database), serverSettings.of(database),
                    InstanceConfig.hba(database.pgDatabase(), network.keelSources()));
            made = instances.transition(live.get().id(), InstanceState.RUNNING);
        } else if (live.isPresent() && node.equals(live.get().node()) && live.get().state() == InstanceState.RUNNING) {
            made = live.get(); // made before Keel stopped
        } else if (live.isPresent() && !making) {
            operations.progress(operation.id(), Step.BACKING_UP, "nothing to make: " + database.name() + "'s primary is instance "
                    + live.get().id() + " on node " + live.get().node(), STEP_COUNT, STEP_COUNT);
            return;
        } else {
            if (live.isPresent()) {
                // Half-made when Keel stopped: made anew from the start.
                retired.discard(database, live.get());
            }
            made = restore(operation, database);
        }
        step(operation, Step.FORGETTING);
        for (Instance old : lostPrimaries(database)) {
            // Its node, should it return, finds no row naming it and sets its data aside (InstanceSweep).
            instances.delete(old.id());
        }
        step(operation, Step.REPOINTING);
        followers.followNewPrimary(database, made);
        step(operation, Step.BACKING_UP);
        if (backups.startUnlessRunning(databases.find(database.id()).orElseThrow(), BackupKind.INITIAL).isEmpty()) {
            LOG.warn("Database {}: a backup is running already; the new timeline's first is the next one taken (scheduled, or asked"
                    + " for)", database.name());
        }
        String outcome = "made anew on node " + node + " from the archive";
        operations.progress(operation.id(), Step.BACKING_UP, outcome, STEP_COUNT, STEP_COUNT);
        LOG.warn("Database {}: its primary was {}; it is instance {} on port {}", database.name(), outcome, made.id(), made.port());
    }

    private Instance restore(Operation operation, Database database) throws Exception {
        Instance lost = lost(database);
        PrimaryRestores.Origin origin = restores.origin(database);
        binaries.installation(database.major()); // this node can run its major (fetched now if need be)
        String restoring = "restoring base backup " + origin.backup().id() + " and replaying its archive through segment "
                + origin.through();
        operations.progress(operation.id(), Step.RESTORING, restoring, Step.RESTORING.done, STEP_COUNT);
        Instance made = restores.restore(database, lost, origin, serverSettings.of(database),
                InstanceConfig.hba(database.pgDatabase(), network.keelSources()),
                (step, done, total, unit) -> operations.progress(operation.id(), Step.RESTORING, restoring + ": " + step,
                        Step.RESTORING.done, STEP_COUNT),
                () -> available(operation).isPresent());
        return instances.transition(made.id(), InstanceState.RUNNING);
    }

    /** The primary a forgotten node left ({@link #lostPrimaries}' newest), which is made anew. */
    private Instance lost(Database database) {
        return lostPrimaries(database).stream().reduce((a, b) -> b).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no lost primary to make anew; nothing was made."));
    }

    /**
     * The database's fenced primaries on other nodes, oldest first: the one a forgotten node left
     * (the newest; should that node have come back meanwhile, the operator's word stands), and any
     * an earlier failover fenced, which never serve again either.
     */
    private List<Instance> lostPrimaries(Database database) {
        return instances.fencedPrimaries(database.id()).stream().filter(fenced -> fenced.node() != null && !fenced.node().equals(node))
                .toList();
    }

    /**
     * Whether {@code instance}, made by a remake Keel stopped during, is promoted (out of recovery),
     * started first if it is down (a host that rebooted). One that was not is recovering still:
     * made anew. Not told apart: one whose new superuser password Keel did not record before it
     * stopped, which no login reaches (made anew too).
     */
    private boolean promoted(Instance instance) {
        if (!runtime.isRunning(instance)) {
            try {
                runtime.start(instance);
            } catch (RuntimeException e) {
                LOG.warn("Instance {} of a remake Keel stopped during does not start ({}); it is made anew", instance.id(), e.toString());
                return false;
            }
        }
        try (ServerSession session = connections.open(instance, "postgres")) {
            return !session.inRecovery();
        } catch (SQLException e) {
            return false;
        }
    }

    private Optional<Database> available(Operation operation) {
        return databases.find(operation.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE);
    }

    private void step(Operation operation, Step step) {
        operations.progress(operation.id(), step, step.sentence(), step.done, STEP_COUNT);
    }

    /** Run again: a primary made is kept, one being made is made anew (see {@link #run}). */
    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing making the primary anew Keel stopped during");
    }
}
