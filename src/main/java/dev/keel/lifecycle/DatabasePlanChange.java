package dev.keel.lifecycle;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.InstanceRole;
import org.jooq.exception.DataAccessException;
import dev.keel.postgres.ServerSession;
import dev.keel.Network;
import dev.keel.auth.Caller;
import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.Reconfiguration;
import dev.keel.nodes.Placement;
import dev.keel.operations.Decision;
import dev.keel.operations.HostedWork;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.operations.StepCode;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.replication.Followers;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.sql.SQLException;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;

/**
 * {@code PATCH /v1/databases/{id} {"plan"}}: {@link #accept} checks that the database fits the
 * new plan (features its followers and credentials use, its data size), and that its servers'
 * nodes have room for it ({@link Placement#holdForPlan}), and records the plan at once, so that
 * limits such as the rollback window, placement and the HA monitor follow it; {@link #run}
 * then applies what the servers need: the HA standby removed when the plan has none (the monitor
 * builds one when it gains HA), followers' settings, and the primary's, with a restart when
 * {@code max_connections} changes. The operation's step announces that restart.
 */
@Singleton
public final class DatabasePlanChange implements OperationHandler {
    static final String REMOVING_STANDBY = "removing the HA standby";
    static final String FOLLOWERS = "applying the plan to followers";

    /** The steps of a plan change; an interrupted one resumes on the code it reached. */
    enum Step implements StepCode {
        /** Its sentence announces whether the server restarts; said again when the plan is applied. */
        ANNOUNCED("announced"),
        REMOVING_STANDBY("removing-standby"),
        FOLLOWERS("followers"),
        APPLYING("applying"),
        DONE("done");

        private final String code;

        Step(String code) {
            this.code = code;
        }

        @Override
        public String code() {
            return code;
        }
    }

    private final DatabaseRepository databases;
    private final Plans plans;
    private final Credentials credentials;
    private final Followers followers;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final InstanceMaker maker;
    private final Reconfiguration reconfiguration;
    private final Network network;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DSLContext dsl;
    private final HostedWork hostedWork;
    private final ServerSettings serverSettings;
    private final Placement placement;

    DatabasePlanChange(DatabaseRepository databases, Plans plans, Credentials credentials, Followers followers, InstanceRepository instances,
                       InstanceConnections connections, InstanceMaker maker, Reconfiguration reconfiguration, Network network,
                       OperationRepository operations, OperationRunner runner, DSLContext dsl, ServerSettings serverSettings, HostedWork hostedWork,
                       Placement placement) {
        this.hostedWork = hostedWork;
        this.placement = placement;
        this.serverSettings = serverSettings;
        this.databases = databases;
        this.plans = plans;
        this.credentials = credentials;
        this.followers = followers;
        this.instances = instances;
        this.connections = connections;
        this.maker = maker;
        this.reconfiguration = reconfiguration;
        this.network = network;
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    /** The database on its new plan, with the operation applying it; none when the plan is already this one. */
    public record Changed(Database database, Optional<Operation> operation) {
    }

    public Changed accept(Caller caller, String idOrName, @Nullable String planName) {
        Plan plan = plans.require(planName);
        Database database = databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName));
        if (database.plan().equals(plan.name())) {
            return new Changed(database, Optional.empty());
        }
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; its plan can change once it is available.");
        }
        // Said before whether the new plan fits: a change under way may change what fits. The insert below settles a race.
        if (operations.running(database.id(), EnumSet.of(OperationKind.PLAN_CHANGE)).isPresent()) {
            throw operations.alreadyPending(database.id(), OperationKind.PLAN_CHANGE, "A plan change of " + database.name());
        }
        requireFits(database, plan);
        for (Database follower : databases.followers(database.id())) {
            instances.primary(follower.id()).flatMap(hostedWork::otherHost)
                    .ifPresent(host -> hostedWork.requireTaker(host, "Applying the plan to follower " + follower.name()));
        }
        Plan from = plans.require(database.plan());
        Operation operation;
        try {
            operation = dsl.transactionResult(tx -> {
                placement.holdForPlan(tx.dsl(), database.id(), database.leaderId() != null, plan.name());
                databases.updatePlan(tx.dsl(), database.id(), plan.name());
                return operations.create(tx.dsl(), caller.teamId(), database.id(), OperationKind.PLAN_CHANGE, Step.ANNOUNCED,
                        announcement(from, plan), 3);
            });
        } catch (IntegrityConstraintViolationException e) {
            throw operations.alreadyPending(database.id(), OperationKind.PLAN_CHANGE, "A plan change of " + database.name());
        }
        runner.submit(operation);
        return new Changed(databases.find(database.id()).orElseThrow(), Optional.of(operation));
    }

    private void requireFits(Database database, Plan plan) {
        List<String> followers = databases.followers(database.id()).stream().filter(f -> f.state() != DatabaseState.DELETING)
                .map(Database::name).toList();
        if (!plan.follow() && !followers.isEmpty()) {
            throw new KeelException(ProblemType.HAS_FOLLOWERS, database.name() + " has followers (" + String.join(", ", followers)
                    + ") and plan " + plan.name() + " cannot be followed; unfollow or delete them first.").with("followers", followers);
        }
        if (!plan.follow() && database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower and plan " + plan.name()
                    + " cannot follow; choose one of " + followingPlans() + ", or unfollow it first.");
        }
        List<String> named = credentials.list(database.id()).stream().map(Credential::name).filter(n -> !Credential.DEFAULT.equals(n)).toList();
        if (!plan.namedCredentials() && !named.isEmpty()) {
            throw new KeelException(ProblemType.HAS_CREDENTIALS, database.name() + " has credentials besides the default one ("
                    + String.join(", ", named) + ") and plan " + plan.name() + " allows only the default; destroy them first.")
                    .with("credentials", named);
        }
        long bytes = dataBytes(database);
        long limit = plan.storageGb() * 1024L * 1024 * 1024;
        if (bytes > limit) {
            throw new KeelException(ProblemType.PLAN_LIMIT, database.name() + " holds " + bytes / (1024 * 1024) + " MB of data and plan "
                    + plan.name() + " allows " + plan.storageGb() + " GB; delete data first or choose a larger plan.");
        }
    }

    private long dataBytes(Database database) {
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no running server; try again once it is available."));
        try (ServerSession session = connections.open(primary, database.pgDatabase())) {
            return session.databaseSize();
        } catch (SQLException | DataAccessException e) {
            throw new KeelException(ProblemType.UNAVAILABLE, database.name() + "'s server does not answer, so its size cannot be"
                    + " checked against the new plan; try again in a minute.");
        }
    }

    private String followingPlans() {
        return String.join(", ", plans.all().stream().filter(Plan::follow).map(Plan::name).toList());
    }

    static String announcement(Plan from, Plan to) {
        return from.connections() == to.connections() ? "applying plan " + to.name() + " (no restart)"
                : "applying plan " + to.name() + ": restarting the server for max_connections " + to.connections() + " (was "
                + from.connections() + "); connections drop for a few seconds";
    }

    @Override
    public OperationKind kind() {
        return OperationKind.PLAN_CHANGE;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Database database = databases.find(operation.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                .orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is no longer available; its plan is not applied."));
        Plan plan = plans.require(database.plan());
        // The announcement is the first step; a resumed operation says it again more plainly.
        String applying = announced(operation) ? operation.step() : "applying plan " + plan.name();
        if (!plan.ha()) {
            if (instances.forDatabase(database.id()).stream().anyMatch(i -> i.role() == InstanceRole.STANDBY)) {
                operations.progress(operation.id(), Step.REMOVING_STANDBY, REMOVING_STANDBY, 0, 3);
            }
            followers.removeStandby(database); // also a slot a crash left behind
        }
        operations.progress(operation.id(), Step.FOLLOWERS, FOLLOWERS, 1, 3);
        // First: a standby needs max_connections at least its primary's. Followers on other nodes are waited for together.
        followers.reconfigureAll(databases.followers(database.id()).stream().filter(f -> f.state() == DatabaseState.AVAILABLE).toList());
        operations.progress(operation.id(), Step.APPLYING, applying, 2, 3);
        if (database.following()) {
            followers.reconfigure(database);
        } else {
            Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                    database.name() + " has no server to apply its plan to."));
            reconfiguration.apply(primary, maker.settings(primary, serverSettings.of(database)),
                    InstanceConfig.hba(database.pgDatabase(), network.keelSources()));
        }
        operations.progress(operation.id(), Step.DONE, "on plan " + plan.name(), 3, 3);
    }

    /**
     * Whether the operation's step is still its announcement (or the plan being applied, which
     * repeats it), so that a resumed operation keeps saying whether the server restarts. An
     * operation a version before step codes left running is read by its sentence.
     */
    static boolean announced(Operation operation) {
        if (operation.stepCode() == null) {
            return operation.step() != null && operation.step().startsWith("applying plan");
        }
        return StepCode.of(Step.class, operation.stepCode()).filter(s -> s == Step.ANNOUNCED || s == Step.APPLYING).isPresent();
    }

    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing the plan change of database " + operation.databaseId()
                + ": Keel stopped during step '" + operation.step() + "'");
    }
}
