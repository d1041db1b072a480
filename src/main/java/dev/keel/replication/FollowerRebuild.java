package dev.keel.replication;

import dev.keel.Network;
import dev.keel.archive.Backup;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.databases.RetiredServers;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceState;
import dev.keel.instances.ReplicationSlots;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.StepCode;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.TimelineHistory;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.restore.StandbyRestores;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Optional;

/**
 * Rebuilds a follower that cannot follow as it is ({@link FollowerRebuilds}): the follower watch
 * found its slot lost, or that it diverged, or its leader's upgrade left it on the old major, or its
 * server's node lost (the rebuild then runs on another node, which makes the new server). Its
 * server and its slot on the leader's primary are removed, and a new server is restored, on the
 * leader's major, from the leader's newest base backup of its current timeline and its archive,
 * streaming from the leader's current primary through a fresh slot, as a follower is first made
 * ({@link StandbyRestores}). It runs on the node that hosts the follower's server (or, that node
 * lost, on the node placement chose: the old server is then left to its node to remove when it
 * returns), under the
 * follower's lease, like every operation that changes a database's servers, and first checks
 * again that the rebuild is still needed (a second node may have asked for it too). Each step may
 * run again after Keel stopped.
 */
@Singleton
final class FollowerRebuild implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerRebuild.class);
    static final int STEP_COUNT = 3;

    /** The steps of a rebuild; an interrupted one resumes on the code of the step it reached. */
    enum Step implements StepCode {
        /** The first step; its sentence is the watch's verdict. */
        DECIDED("decided", 0),
        REMOVING("removing", 1),
        RESTORING("restoring", 2);

        private final String code;
        private final int done;

        Step(String code, int done) {
            this.code = code;
            this.done = done;
        }

        @Override
        public String code() {
            return code;
        }

        static Optional<Step> reached(Operation operation) {
            return operation.stepCode() == null ? Optional.empty() : StepCode.of(Step.class, operation.stepCode());
        }
    }

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final InstanceMaker maker;
    private final ReplicationSlots slots;
    private final StandbyRestores standbys;
    private final FollowerChecks checks;
    private final OperationRepository operations;
    private final Plans plans;
    private final ServerSettings serverSettings;
    private final Network network;
    private final Followers followers;
    private final PostgresBinaries binaries;
    private final RetiredServers retired;
    private final ThisNode node;

    FollowerRebuild(DatabaseLookup databases, InstanceRepository instances, InstanceMaker maker, ReplicationSlots slots,
                    StandbyRestores standbys, FollowerChecks checks, OperationRepository operations, Plans plans,
                    ServerSettings serverSettings, Network network, Followers followers, PostgresBinaries binaries,
                    RetiredServers retired, ThisNode node) {
        this.retired = retired;
        this.node = node;
        this.followers = followers;
        this.binaries = binaries;
        this.databases = databases;
        this.instances = instances;
        this.maker = maker;
        this.slots = slots;
        this.standbys = standbys;
        this.checks = checks;
        this.operations = operations;
        this.plans = plans;
        this.serverSettings = serverSettings;
        this.network = network;
    }

    @Override
    public OperationKind kind() {
        return OperationKind.REBUILD;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Database follower = databases.find(operation.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE && d.following())
                .orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is no longer an available follower;"
                        + " nothing was rebuilt."));
        Database leader = databases.find(follower.leaderId()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + "'s leader is gone; nothing was rebuilt."));
        Instance leaderPrimary = instances.primary(leader.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + "'s leader " + leader.name() + " has no server; the follower watch asks again."));
        Step at = Step.reached(operation).orElse(Step.DECIDED);
        // The verdict that started it, or (resumed) what the rebuild had reached: shown on each step, so its status says why.
        String why = at == Step.DECIDED ? operation.step() : "finishing the rebuild Keel stopped during";
        Optional<Instance> server = instances.primary(follower.id());
        if (at == Step.DECIDED && server.isPresent()) {
            // A server on another node is rebuilt here only while that node is lost and the server does not answer.
            boolean elsewhere = server.get().node() != null && !server.get().node().equals(node.name());
            FollowerChecks.Verdict now = elsewhere ? checks.lostWithItsNode(follower, leaderPrimary, server.get())
                    .orElse(new FollowerChecks.Verdict(FollowerChecks.Verdict.Kind.UNKNOWN, "its server's node " + server.get().node()
                            + " is back, or the server answers or streams"))
                    : checks.check(follower, leader, leaderPrimary, server.get());
            if (!now.rebuilds()) {
                // It follows, or cannot be told now (restarting, not answering): a server is never removed on a doubt.
                operations.progress(operation.id(), "no rebuild: " + now.sentence(), STEP_COUNT, STEP_COUNT);
                return;
            }
        }
        TimelineHistory history = checks.history(leaderPrimary).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "The history file of " + leader.name() + "'s timeline is missing on its primary; nothing was rebuilt."));
        Backup backup = checks.startingPoint(leader, history).orElseThrow(() -> new KeelException(ProblemType.NO_BACKUP,
                leader.name() + " has no restorable base backup on its timeline " + history.current() + " yet; the follower watch"
                        + " asks again once one completes."));
        // This node can run the leader's major (fetched now, on a leader's upgrade), before anything is removed.
        binaries.installation(leaderPrimary.major());

        step(operation, Step.REMOVING, "removing the follower's server and its slot on the leader", why);
        for (Instance old : instances.forDatabase(follower.id())) {
            if (old.node() != null && !old.node().equals(node.name())) {
                retired.discard(follower, old); // marked deleting; its node, lost, removes it when it returns
                continue;
            }
            if (old.state() != InstanceState.DELETING) {
                instances.transition(old.id(), InstanceState.DELETING);
            }
            maker.discard(old);
        }
        slots.drop(leaderPrimary, ReplicationSlots.forFollower(follower.id()));

        step(operation, Step.RESTORING, "restoring base backup " + backup.id() + " of " + leader.name(), why);
        // Its leader was upgraded: it is made anew on the leader's major (its old server is gone, above).
        Database made = follower.major() == leaderPrimary.major() ? follower : onMajor(follower, leaderPrimary.major());
        int connections = Math.max(plans.require(made.plan()).connections(), plans.require(leader.plan()).connections());
        Instance rebuilt = standbys.build(StandbyRestores.Standby.ofFollower(made.id(), made.major(), leader.id(),
                        leaderPrimary, backup, serverSettings.of(made), connections,
                        InstanceConfig.hba(follower.pgDatabase(), network.keelSources())),
                (step, done, total, unit) -> operations.progress(operation.id(), Step.RESTORING, sentence(step, why),
                        Step.RESTORING.done, STEP_COUNT),
                () -> databases.find(follower.id()).filter(d -> d.state() == DatabaseState.AVAILABLE && d.following()).isPresent());
        instances.transition(rebuilt.id(), InstanceState.RUNNING);
        // The leader failed over while the restore ran (the failover skipped this follower, which had no server).
        Optional<Instance> leaderNow = instances.primary(leader.id());
        if (leaderNow.isPresent() && !leaderNow.get().id().equals(leaderPrimary.id())) {
            followers.repoint(follower, leader, leaderNow.get());
            leaderPrimary = leaderNow.get();
        }
        operations.progress(operation.id(), "rebuilt, streaming from " + leader.name() + "'s primary: " + why, STEP_COUNT, STEP_COUNT);
        LOG.warn("Follower {}: rebuilt from base backup {} of {}; it streams from instance {} ({})", follower.name(), backup.id(),
                leader.name(), leaderPrimary.id(), why);
    }

    /** {@code follower} recorded on Postgres {@code major}, as read back. */
    private Database onMajor(Database follower, int major) {
        databases.changeMajor(follower.id(), major);
        LOG.info("Follower {}: made anew on Postgres {}, its leader's major, from {}", follower.name(), major, follower.major());
        return databases.find(follower.id()).orElseThrow();
    }

    private void step(Operation operation, Step step, String what, String why) {
        operations.progress(operation.id(), step, sentence(what, why), step.done, STEP_COUNT);
    }

    /** A step's sentence with the reason for the rebuild, within the 1000 characters of an operation's step. */
    private static String sentence(String what, String why) {
        String text = "rebuilding: " + what + " (because " + why + ")";
        return text.length() <= 1000 ? text : text.substring(0, 997) + "...";
    }

    /** Resumes from the step it reached: every step may run again (the removal finds nothing left, the restore starts over). */
    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing the follower rebuild Keel stopped during at step '"
                + Step.reached(operation).map(Step::code).orElse("decided") + "'");
    }
}
