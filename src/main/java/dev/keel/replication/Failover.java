package dev.keel.replication;

import dev.keel.instances.InstanceState;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerSession;
import dev.keel.Network;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BaseBackups;
import dev.keel.auth.Caller;
import dev.keel.databases.ServerSettings;
import dev.keel.databases.Accepted;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.ReplicationSlots;
import dev.keel.operations.Decision;
import dev.keel.operations.HostedWork;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.operations.StepCode;
import dev.keel.postgres.HbaRule;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

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
    private static final int STEP_COUNT = 6;

    /** The steps of a failover, in order; an interrupted one resumes on the code of the step it reached. */
    enum Step implements StepCode {
        /** A planned switchover's first step (an unplanned failover starts at {@link #DECIDED}). */
        DRAINING("draining", "draining the primary", 0),
        /** An unplanned failover's first step; its sentence is the monitor's decision. */
        DECIDED("decided", "deciding to fail over", 0),
        FENCING("fencing", "fencing the old primary", 1),
        PROMOTING("promoting", "promoting the standby", 2),
        CONFIGURING("configuring", "configuring the new primary", 3),
        REPOINTING("repointing-followers", "re-pointing followers", 4),
        BACKING_UP("backup", "taking a base backup", 5);

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

        /** Whether the failover had begun to fence the old primary: from then on it is finished, never undone. */
        boolean pastFencing() {
            return done >= FENCING.done;
        }

        /**
         * The step {@code operation} reached: by its code, or, for an operation a version before step
         * codes left running, by its sentence, which that version wrote exactly as above.
         */
        static Optional<Step> reached(Operation operation) {
            if (operation.stepCode() != null) {
                return StepCode.of(Step.class, operation.stepCode());
            }
            return Arrays.stream(values()).filter(s -> s.sentence.equals(operation.step())).findFirst();
        }
    }
    private static final long CATCH_UP_MILLIS = 30_000;
    /** Tries to give a primary back its clients after a switchover that did not happen: each a second apart. */
    private static final int SERVE_AGAIN_ATTEMPTS = 3;

    private final DatabaseLookup databases;
    private final Plans plans;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final Reconfiguration reconfiguration;
    private final InstanceConnections connections;
    private final InstanceMaker maker;
    private final ReplicationSlots slots;
    private final Followers followers;
    private final BaseBackups backups;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final Network network;
    private final DSLContext dsl;
    private final ServerSettings serverSettings;
    private final HostedWork hostedWork;
    /**
     * How long a promotion may take before the failover or switchover stops (after a failover, the
     * monitor finishes it later: {@code FINISH_PROMOTION}).
     */
    private final int promoteWaitSeconds;

    Failover(DatabaseLookup databases, Plans plans, InstanceRepository instances, InstanceRuntime runtime,
             Reconfiguration reconfiguration, InstanceConnections connections,
             InstanceMaker maker, ReplicationSlots slots, Followers followers, BaseBackups backups, OperationRepository operations,
             OperationRunner runner, Network network, DSLContext dsl, ServerSettings serverSettings, HostedWork hostedWork,
             @Value("${keel.ha.promote-wait}") Duration promoteWait) {
        this.hostedWork = hostedWork;
        // Below the server session's socket timeout, which would end the wait with a read timeout instead.
        this.promoteWaitSeconds = (int) Math.max(1, Math.min(InstanceConnections.SOCKET_SECONDS - 10, promoteWait.toSeconds()));
        this.serverSettings = serverSettings;
        this.databases = databases;
        this.plans = plans;
        this.instances = instances;
        this.runtime = runtime;
        this.reconfiguration = reconfiguration;
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
        instances.standby(database.id()).filter(s -> s.state() == InstanceState.RUNNING)
                .orElseThrow(() -> new KeelException(ProblemType.NO_STANDBY, database.name() + " has no standby ready yet (GET"
                        + " /v1/databases/" + database.name() + "/info shows its HA status); try again once it is available."));
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), caller.teamId(), database.id(),
                OperationKind.FAILOVER, Step.DRAINING, Step.DRAINING.sentence(), STEP_COUNT));
        runner.submit(operation);
        return new Accepted(database, operation);
    }

    /**
     * The planned switchover: the primary lets in only Keel and replication, ends every client
     * session, and shuts down cleanly, which sends its standby every last bit of WAL; only once the
     * standby has received past the primary's last position does it become the primary. Should
     * anything fail before the old primary is fenced, it serves again as before. Resumed after Keel
     * stopped, an operation past draining (or one the monitor started) finishes what it began; one
     * that was draining starts over.
     */
    @Override
    public void run(Operation operation) throws Exception {
        Database database = databases.find(operation.databaseId()).orElseThrow();
        if (Step.reached(operation).orElse(null) != Step.DRAINING) {
            finish(operation, database);
            return;
        }
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no primary."));
        Instance standby = instances.standby(database.id()).orElseThrow(() -> new KeelException(ProblemType.NO_STANDBY,
                database.name() + " lost its standby meanwhile; nothing changed."));
        Lsn last;
        try {
            reconfiguration.apply(primary, ownSettings(database, primary), keelAndReplicationOnly());
            try (ServerSession session = connections.open(primary, "postgres")) {
                // No client gets back in (pg_hba), so after this nothing but the shutdown checkpoint is written.
                session.terminateClientSessions();
                last = session.currentWalLsn();
            }
            runtime.stop(primary); // the shutdown checkpoint goes to the standby before the walsender exits
            if (!receivedPast(standby, last)) {
                throw new KeelException(ProblemType.FAILOVER_REFUSED, "The standby did not receive the primary's last WAL (past " + last
                        + ") within " + CATCH_UP_MILLIS / 1000 + " s, so Keel kept the primary; nothing changed. Its HA status says why.");
            }
        } catch (Exception e) {
            Optional<Exception> notServing = serveAgain(database, primary);
            if (notServing.isPresent()) {
                String now = runtime.isRunning(primary)
                        ? "Keel could not give the primary its clients back after a switchover that did not happen ("
                        + notServing.get().getMessage() + "): they are refused until its next configuration change (heroku pg:settings,"
                        + " a plan change)."
                        : "The primary did not start again after a switchover that did not happen (" + notServing.get().getMessage()
                        + "); the HA monitor restarts it in place or fails it over.";
                KeelException worse = new KeelException(e instanceof KeelException keel ? keel.type() : ProblemType.FAILOVER_REFUSED,
                        now + " Why the switchover stopped: " + e.getMessage(), e);
                worse.addSuppressed(notServing.get());
                throw worse;
            }
            throw e;
        }
        complete(operation, database, primary, standby, "switched over: the standby had received all of the primary's WAL (past "
                + last + ")");
    }

    /**
     * The primary's own settings and rules again, and running: a switchover that did not happen. A
     * stopped primary starts first with the files it stopped with (Keel's and replication's rules
     * only, which it accepted), so that its own rules come, as any change's, through
     * {@link Reconfiguration#apply}, which does not leave a server with a pg_hba it refuses. Its
     * clients are refused until that has happened, so a failure to log in is tried again, a
     * second apart, a few times; a start that fails, rules the server refuses, or a reload that
     * does not take, are not.
     * Returns what stopped it, if anything did.
     */
    private Optional<Exception> serveAgain(Database database, Instance primary) {
        try {
            if (!runtime.isRunning(primary)) {
                reconfiguration.startOrGoBack(primary);
            }
        } catch (RuntimeException e) {
            if (!runtime.isRunning(primary)) {
                LOG.error("Database {}: its primary did not start again after a switchover that did not happen", database.name(), e);
                return Optional.of(e);
            }
            LOG.warn("Database {}: its primary started again after a switchover that did not happen: {}", database.name(), e.getMessage());
        }
        for (int attempt = 1; ; attempt++) {
            try {
                reconfiguration.apply(primary, ownSettings(database, primary), ownRules(database));
                return Optional.empty();
            } catch (SQLException e) {
                if (attempt == SERVE_AGAIN_ATTEMPTS) {
                    LOG.error("Database {}: its primary could not be given its clients' rules back after a switchover that did not"
                            + " happen", database.name(), e);
                    return Optional.of(e);
                }
                LOG.warn("Database {}: could not give its primary its clients' rules back (attempt {} of {}): {}", database.name(),
                        attempt, SERVE_AGAIN_ATTEMPTS, e.getMessage());
                try {
                    Thread.sleep(1_000);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return Optional.of(e);
                }
            } catch (RuntimeException e) {
                LOG.error("Database {}: its primary could not be given its clients' rules back after a switchover that did not"
                        + " happen", database.name(), e);
                return Optional.of(e);
            }
        }
    }

    private Map<String, String> ownSettings(Database database, Instance instance) {
        return maker.settings(instance, serverSettings.of(database));
    }

    private List<HbaRule> ownRules(Database database) {
        return InstanceConfig.hba(database.pgDatabase(), network.keelSources());
    }

    private List<HbaRule> keelAndReplicationOnly() {
        return InstanceConfig.hba("keel_switchover_no_database", network.keelSources()).stream()
                .filter(rule -> !rule.database().equals("keel_switchover_no_database")).toList();
    }

    /**
     * Finishes a failover or switchover Keel stopped during, from what the catalog says: before
     * anything was fenced, the primary serves again as before; after, the standby is promoted (if it
     * is not yet) and made the primary, and everything that points at it follows.
     */
    private void finish(Operation operation, Database database) throws Exception {
        Optional<Step> at = Step.reached(operation);
        Optional<Instance> primary = instances.primary(database.id());
        Optional<Instance> standby = instances.standby(database.id());
        if (at.isEmpty() || !at.get().pastFencing()) {
            throw new KeelException(ProblemType.UNAVAILABLE, "Keel stopped before this failover fenced anything; the primary is left"
                    + " as it was, and the HA monitor decides again.");
        }
        String outcome = "finished the failover Keel stopped during";
        Optional<String> elsewhere = primary.flatMap(hostedWork::otherHost);
        if (elsewhere.isPresent()) {
            // This node ran the failover, so the old primary was its own: a primary on another node is one another node
            // promoted meanwhile (it finished this failover), and fencing it from here would fence nothing.
            throw new KeelException(ProblemType.UNAVAILABLE, database.name() + "'s primary is on node " + elsewhere.get()
                    + " now, which finished this failover while this node was stopped; nothing more is done here.");
        }
        if (primary.isPresent() && standby.isPresent()) {
            complete(operation, database, primary.get(), standby.get(), outcome); // it stopped before the old primary was fenced
        } else if (standby.isPresent()) {
            settle(operation, database, promote(standby.get()), outcome);
        } else {
            Instance promoted = primary.orElseThrow(() -> new KeelException(ProblemType.NO_STANDBY, database.name()
                    + " has neither a primary nor a standby left to promote."));
            settle(operation, database, promote(promoted), outcome);
        }
    }

    private boolean receivedPast(Instance standby, Lsn lsn) throws SQLException, InterruptedException {
        long deadline = System.currentTimeMillis() + CATCH_UP_MILLIS;
        try (ServerSession session = connections.open(standby, "postgres")) {
            while (System.currentTimeMillis() < deadline) {
                if (session.received().filter(received -> received.isAfter(lsn)).isPresent()) {
                    return true;
                }
                Thread.sleep(50);
            }
        }
        return false;
    }

    /** The unplanned failover the monitor decided on, recorded as an operation that carries its reason. */
    void failOver(Database database, Instance primary, Instance standby, HaDecision decision, Consumer<UUID> decided) {
        recorded(database, decision, decided, operation -> complete(operation, database, primary, standby,
                "failed over: " + decision.sentence()));
    }

    /**
     * The failover the standby's node decided on when the primary's node went silent and the
     * primary stopped answering (its host lost, or cut off): that node cannot be asked to fence it,
     * and fenced itself if it still runs (the self-fence, within T_fence of its last catalog
     * contact and its standby's last reply). The old primary is fenced in the catalog, as any a
     * failover leaves, so that no Keel serves it again (its node kills it, should it run, when it
     * returns), and the standby promoted.
     */
    void failOverFromLostNode(Database database, Instance oldPrimary, Instance standby, HaDecision decision, Consumer<UUID> decided) {
        recorded(database, decision, decided, operation -> {
            step(operation, Step.FENCING);
            instances.transition(oldPrimary.id(), InstanceState.FENCED);
            step(operation, Step.PROMOTING);
            settle(operation, database, promote(standby), "failed over: " + decision.sentence());
        });
    }

    /** Promotes a standby whose old primary a failover fenced before it stopped, and points everything at it; says whether it did. */
    boolean finishPromotion(Database database, Instance standby, HaDecision decision, Consumer<UUID> decided) {
        return recorded(database, decision, decided, operation -> settle(operation, database, promote(standby), "promoted: "
                + decision.sentence()));
    }

    private interface Work {
        void on(Operation operation) throws Exception;
    }

    /**
     * Runs a failover as an operation. {@code decided} learns the operation before anything is
     * fenced or promoted, so that the decision is kept (and shown) before the database's URL
     * names the new primary, never after.
     */
    private boolean recorded(Database database, HaDecision decision, Consumer<UUID> decided, Work work) {
        Operation operation = dsl.transactionResult(tx -> operations.createHere(tx.dsl(), database.teamId(), database.id(),
                OperationKind.FAILOVER, Step.DECIDED, decision.sentence(), STEP_COUNT));
        try {
            decided.accept(operation.id());
        } catch (RuntimeException e) {
            LOG.warn("Database {}: the failover's decision could not be kept ({}); the failover goes on", database.name(), e.toString());
        }
        try {
            work.on(operation);
            operations.succeed(operation.id());
            return true;
        } catch (Exception e) {
            LOG.error("Failover of {} failed; the HA monitor looks again", database.name(), e);
            operations.fail(operation.id(), "The failover stopped: " + e.getMessage() + "; the HA monitor looks again.");
            return false;
        }
    }

    /** Fences the old primary, promotes the standby and makes it the database's primary, with everything that points at it. */
    private void complete(Operation operation, Database database, Instance oldPrimary, Instance standby, String outcome)
            throws Exception {
        Optional<String> elsewhere = hostedWork.otherHost(oldPrimary);
        if (elsewhere.isPresent()) {
            throw new KeelException(ProblemType.FAILOVER_REFUSED, "The primary is on node " + elsewhere.get() + ", which alone can"
                    + " fence it; nothing changed.");
        }
        step(operation, Step.FENCING);
        // Fenced in the catalog first, so that no Keel start serves it again, then killed; the URL names no server
        // until the standby is promoted and made the primary.
        instances.transition(oldPrimary.id(), InstanceState.FENCED);
        runtime.fence(oldPrimary);
        step(operation, Step.PROMOTING);
        settle(operation, database, promote(standby), outcome);
    }

    /** Configures the new primary as one, and points everything at it. Each step may run again. */
    private void settle(Operation operation, Database database, Instance primary, String outcome) throws Exception {
        step(operation, Step.CONFIGURING);
        configure(database, primary);
        slots.forget(ReplicationSlots.forStandby(database.id())); // it lived on the fenced primary
        step(operation, Step.REPOINTING);
        followers.followNewPrimary(database, primary);
        step(operation, Step.BACKING_UP);
        if (backups.startUnlessRunning(databases.find(database.id()).orElseThrow(), BackupKind.INITIAL).isEmpty()) {
            // A backup of the old primary still runs; it fails with its server, and the HA monitor then takes the new
            // timeline's (TimelineBackups): the failover is done without it.
            LOG.warn("Database {}: a backup of the old primary is still running; the new timeline's backup follows once it ends",
                    database.name());
        }
        operations.progress(operation.id(), outcome, STEP_COUNT, STEP_COUNT);
        LOG.warn("Database {}: {}; its primary is now instance {} on port {}", database.name(), outcome, primary.id(), primary.port());
    }

    /**
     * Gives the new primary its database's settings (those changed since the standby was built
     * among them). It serves meanwhile with the standby's, which differ only in what a primary
     * ignores. A primary another node hosts is configured by that node, once this failover has let
     * the database's lease go.
     */
    private void configure(Database database, Instance primary) throws SQLException {
        Optional<String> host = hostedWork.otherHost(primary);
        if (host.isEmpty()) {
            reconfiguration.apply(primary, ownSettings(database, primary), ownRules(database));
            return;
        }
        Optional<Operation> handed = hostedWork.handOverTo(host.get(), database.teamId(), database.id(), OperationKind.RECONFIGURE,
                "configuring the new primary");
        if (handed.isPresent()) {
            LOG.info("Database {}: its new primary is on node {}, which configures it (operation {})", database.name(), host.get(),
                    handed.get().id());
        } else {
            LOG.warn("Database {}: its new primary is on node {}, which runs another version of Keel and is not asked to configure it;"
                    + " it serves with its standby's settings until its settings are applied again (heroku pg:settings)",
                    database.name(), host.get());
        }
    }

    /** Promotes the standby (unless it already is) and makes it the database's primary in the catalog. */
    private Instance promote(Instance standby) throws SQLException {
        try (ServerSession session = connections.open(standby, "postgres")) {
            session.promote(promoteWaitSeconds, "the standby");
        }
        return instances.makePrimary(standby.id());
    }

    private void step(Operation operation, Step step) {
        operations.progress(operation.id(), step, step.sentence(), step.done, STEP_COUNT);
    }

    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing the failover Keel stopped during at step '" + operation.step() + "' from what the"
                + " catalog says (a fenced old primary stays fenced; the standby is promoted and everything pointed at it)");
    }
}
