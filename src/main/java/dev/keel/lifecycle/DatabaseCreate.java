package dev.keel.lifecycle;

import dev.keel.Network;
import dev.keel.auth.Caller;
import dev.keel.auth.Quotas;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseAvailable;
import dev.keel.databases.DatabaseNames;
import dev.keel.databases.DatabaseOrigin;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.databases.ServerSettings;
import dev.keel.databases.SettingsRepository;
import dev.keel.instances.Capacity;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.instances.WarmPool;
import dev.keel.nodes.Placement;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.problems.Failure;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.restore.Copies;
import dev.keel.restore.CopyRequests;
import dev.keel.restore.RestoreProgress;
import io.micronaut.context.event.ApplicationEventPublisher;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Provisioning: {@link #accept} validates the request and records the database ({@code creating})
 * with its operation; {@link #run} then gets the primary instance — claimed from the warm pool
 * and reconfigured for this database, or made new (port, initdb and configuration, start) — adds
 * the owner role and database, and marks the database {@code available}. A fork, rollback or
 * follower is checked and its origin fixed by {@link CopyRequests}, and its primary restored from
 * its source's archive by {@link Copies}. A failure removes the half-made instance and leaves the
 * database {@code failed} with the reason; a delete arriving meanwhile stops it between steps.
 */
@Singleton
public final class DatabaseCreate implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseCreate.class);
    static final int MAX_ATTEMPTS = 3;
    private static final String BINARIES = "preparing Postgres binaries";
    private static final String CREDENTIALS = "creating credentials";
    private static final List<String> STEPS = List.of(
            BINARIES, InstanceMaker.RESERVING, InstanceMaker.INITIALIZING, InstanceMaker.STARTING, CREDENTIALS);
    /** A fork's or rollback's steps; the restore reports bytes and segments within its own. */
    static final List<String> RESTORE_STEPS = List.of(BINARIES, InstanceMaker.RESERVING, RestoreProgress.RESTORING,
            RestoreProgress.REPLAYING, RestoreProgress.PROMOTING, CREDENTIALS);

    private final DatabaseRepository databases;
    private final Plans plans;
    private final PostgresBinaries binaries;
    private final InstanceRepository instances;
    private final InstanceMaker maker;
    private final WarmPool pool;
    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final Credentials credentials;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final Network network;
    private final ApplicationEventPublisher<DatabaseAvailable> events;
    private final DSLContext dsl;
    private final CopyRequests copyRequests;
    private final Copies copies;
    private final Capacity capacity;
    private final Quotas quotas;
    private final SettingsRepository tunables;
    private final ServerSettings serverSettings;

    DatabaseCreate(DatabaseRepository databases, Plans plans, PostgresBinaries binaries, InstanceRepository instances,
                   InstanceMaker maker, WarmPool pool, InstanceRuntime runtime, InstanceConnections connections,
                   Credentials credentials, OperationRepository operations, OperationRunner runner, Network network,
                   ApplicationEventPublisher<DatabaseAvailable> events, DSLContext dsl, CopyRequests copyRequests, Copies copies, Capacity capacity,
                   Quotas quotas, SettingsRepository tunables, ServerSettings serverSettings) {
        this.capacity = capacity;
        this.quotas = quotas;
        this.tunables = tunables;
        this.serverSettings = serverSettings;
        this.events = events;
        this.copyRequests = copyRequests;
        this.copies = copies;
        this.databases = databases;
        this.plans = plans;
        this.binaries = binaries;
        this.instances = instances;
        this.maker = maker;
        this.pool = pool;
        this.runtime = runtime;
        this.connections = connections;
        this.credentials = credentials;
        this.operations = operations;
        this.runner = runner;
        this.network = network;
        this.dsl = dsl;
    }

    public Accepted accept(Caller caller, CreateDatabaseRequest request) {
        Plan plan = plans.require(request.plan());
        DatabaseOrigin origin = request.copies() ? origin(caller, request, plan) : null;
        Database source = origin == null ? null : databases.find(origin.sourceId()).orElseThrow(() -> KeelException.notFound("database",
                origin.sourceName()));
        int major = source != null ? source.major()
                : request.version() == null ? binaries.defaultMajor() : binaries.requireSupported(binaries.parseMajor(request.version()));
        String name = request.name() == null || request.name().isBlank()
                ? DatabaseNames.generate(databases::nameTaken)
                : DatabaseNames.validate(request.name().strip());
        UUID id = UUID.randomUUID();
        String pgDatabase = source != null ? source.pgDatabase() : WarmPool.newDatabaseName();
        OperationKind kind = origin == null ? OperationKind.PROVISION : OperationKind.RESTORE;
        List<String> steps = origin == null ? STEPS : RESTORE_STEPS;
        // A follower goes to another node than its leader's primary where one is active, so that losing one host leaves the other.
        String leaderNode = origin != null && origin.kind() == DatabaseOrigin.Kind.FOLLOW
                ? instances.primary(origin.sourceId()).map(Instance::node).orElse(null) : null;
        // A follower has no standby of its own; a copy takes no warm instance.
        boolean follows = origin != null && origin.kind() == DatabaseOrigin.Kind.FOLLOW;
        try {
            Operation operation = dsl.transactionResult(tx -> {
                // Chosen and recorded in one transaction, under the placement lock, so that no other request takes the same room.
                Placement.Placed placed = capacity.placeInstance(tx.dsl(), origin == null ? major : -1, leaderNode,
                        new Placement.Demand(plan.name(), follows ? 1 : plans.servers(plan.name()), origin == null ? major : -1));
                // The team's row, locked: its requests are counted against its quota one at a time.
                Quotas.require(databases.lockAndCountForTeam(tx.dsl(), caller.teamId()), quotas.getDatabases(), "databases",
                        "KEEL_QUOTAS_DATABASES");
                databases.insert(tx.dsl(), id, caller.teamId(), name, plan.name(), major, pgDatabase,
                        origin != null && origin.kind() == DatabaseOrigin.Kind.FOLLOW ? origin.sourceId() : null);
                if (origin != null) {
                    databases.insertOrigin(tx.dsl(), id, origin);
                    tunables.copy(tx.dsl(), origin.sourceId(), id); // a copy runs with its source's settings
                }
                return operations.create(tx.dsl(), caller.teamId(), id, kind, steps.get(0), steps.size(), placed.node());
            });
            runner.submit(operation);
            return new Accepted(databases.find(id).orElseThrow(), operation);
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.NAME_TAKEN, "A database named " + name + " already exists; choose another name or"
                    + " leave \"name\" out for a generated one.");
        }
    }

    /**
     * A fork's, rollback's or follower's origin: the request is checked against its source and
     * archive first, and only then is its origin fixed, which for a fork as of now finishes the
     * source's current WAL segment. The name, the quota and the room are checked after it (the last
     * two as the database is recorded), so a fork refused for one of those has finished a segment.
     */
    private DatabaseOrigin origin(Caller caller, CreateDatabaseRequest request, Plan plan) {
        CopyRequests.Checked checked = copyRequests.check(caller, request, plan);
        return copyRequests.origin(checked);
    }

    @Override
    public OperationKind kind() {
        return OperationKind.PROVISION;
    }

    /** The same work for a fork or rollback, whose operations have their own kind (and steps). */
    @Singleton
    static final class Restore implements OperationHandler {
        private final DatabaseCreate create;

        Restore(DatabaseCreate create) {
            this.create = create;
        }

        @Override
        public OperationKind kind() {
            return OperationKind.RESTORE;
        }

        @Override
        public void run(Operation operation) throws Exception {
            create.run(operation);
        }

        @Override
        public Decision recover(Operation operation) {
            return create.recover(operation);
        }
    }

    @Override
    public void run(Operation operation) throws Exception {
        UUID id = operation.databaseId();
        Database database = databases.find(id).orElseThrow(() -> cancelled("it was deleted"));
        Plan plan = plans.require(database.plan());
        String[] step = {BINARIES};
        try {
            step(operation, step, BINARIES);
            binaries.installation(database.major());
            requireCreating(id);

            Map<String, String> settings = serverSettings.of(database);
            List<HbaRule> hba = InstanceConfig.hba(database.pgDatabase(), network.keelSources());
            Optional<DatabaseOrigin> origin = databases.origin(id);
            Instance instance;
            if (origin.isPresent()) {
                instance = copies.restore(database, origin.get(), settings, hba, (name, done, total, unit) -> {
                    step[0] = name;
                    operations.progress(operation.id(), name, done, total, unit);
                }, () -> isCreating(id));
                step(operation, step, CREDENTIALS);
                requireCreating(id);
                if (origin.get().kind() == DatabaseOrigin.Kind.FOLLOW) {
                    credentials.shareDefault(id, origin.get().sourceId()); // a read-only replica has its leader's roles
                } else {
                    credentials.adoptCopy(id, origin.get().sourceId(), database.pgDatabase(), name -> connections.open(instance, name));
                }
            } else {
                Optional<WarmPool.Claimed> pooled = adoptPooled(operation, step, id, database.major(), settings);
                if (pooled.isPresent()) {
                    // The pooled instance holds this database already, with its owner: only the catalog learns them.
                    instance = pooled.get().instance();
                    step(operation, step, CREDENTIALS);
                    requireCreating(id);
                    databases.updatePgDatabase(id, pooled.get().pgDatabase());
                    credentials.recordDefault(id, pooled.get().owner(), pooled.get().ownerPassword());
                } else {
                    instance = maker.make(id, database.major(), settings, hba, name -> step(operation, step, name));
                    step(operation, step, CREDENTIALS);
                    requireCreating(id);
                    credentials.createDefault(id, database.pgDatabase(), name -> connections.open(instance, name));
                }
            }
            instances.transition(instance.id(), InstanceState.RUNNING);
            if (databases.transition(id, DatabaseState.AVAILABLE, null).isEmpty()) {
                throw cancelled("it is being deleted");
            }
            events.publishEvent(new DatabaseAvailable(databases.find(id).orElseThrow()));
            int steps = origin.isPresent() ? RESTORE_STEPS.size() : STEPS.size();
            operations.progress(operation.id(), "available", steps, steps);
        } catch (Exception e) {
            Failure failure = Failure.of(e,
                    "Provisioning failed while " + step[0] + "; Keel's log has the details under operation " + operation.id() + ".");
            // Failed first: should the clean-up fail too, the database still says why, and a delete removes the rest.
            if (databases.fail(id, failure).isPresent()) {
                try {
                    removeHalfMade(id);
                } catch (RuntimeException cleanup) {
                    LOG.error("Could not remove what the failed provisioning made; deleting the database removes it", cleanup);
                }
            }
            throw e;
        } finally {
            pool.refill();
        }
    }

    @Override
    public Decision recover(Operation operation) {
        Optional<Database> database = databases.find(operation.databaseId());
        if (database.isEmpty() || database.get().state() == DatabaseState.DELETING) {
            return Decision.giveUp(operation, "abandoning provisioning: the database is being deleted");
        }
        switch (database.get().state()) {
            case AVAILABLE:
                return Decision.done(operation, "provisioning had finished: the database is available");
            case FAILED:
                return Decision.giveUp(operation, "provisioning had failed: " + database.get().stateReason());
            default:
                break;
        }
        removeHalfMade(operation.databaseId());
        if (operation.attempt() < MAX_ATTEMPTS) {
            return Decision.retry(operation, "retrying provisioning from the start (attempt " + (operation.attempt() + 1) + " of "
                    + MAX_ATTEMPTS + "): Keel stopped during step '" + operation.step() + "'");
        }
        String reason = "Provisioning was interrupted " + MAX_ATTEMPTS + " times; delete this database and create a new one.";
        databases.fail(operation.databaseId(), Failure.of(ProblemType.INTERNAL, reason));
        return Decision.giveUp(operation, reason);
    }

    /**
     * A pooled server fitted to this database, if the pool had one. A pooled server that cannot be
     * fitted (it died while pooled, say) is discarded, and the caller makes a new one instead.
     */
    private Optional<WarmPool.Claimed> adoptPooled(Operation operation, String[] step, UUID id, int major, Map<String, String> settings) {
        Optional<WarmPool.Claimed> claimed = pool.claim(id, major);
        if (claimed.isEmpty()) {
            return claimed;
        }
        try {
            pool.adopt(claimed.get().instance(), settings, InstanceConfig.hba(claimed.get().pgDatabase(), network.keelSources()),
                    name -> step(operation, step, name));
            return claimed;
        } catch (Exception e) {
            LOG.warn("Pooled instance {} could not be fitted to database {}; making a new one", claimed.get().instance().id(), id, e);
            maker.discard(claimed.get().instance());
            return Optional.empty();
        }
    }

    /** Records that the operation is at {@code name} (one of {@link #STEPS} or {@link #RESTORE_STEPS}). */
    private void step(Operation operation, String[] current, String name) {
        current[0] = name;
        List<String> steps = operation.kind() == OperationKind.RESTORE ? RESTORE_STEPS : STEPS;
        operations.progress(operation.id(), name, steps.indexOf(name), steps.size());
    }

    private boolean isCreating(UUID id) {
        return databases.find(id).map(d -> d.state() == DatabaseState.CREATING).orElse(false);
    }

    private void requireCreating(UUID id) {
        if (!isCreating(id)) {
            throw cancelled("it is being deleted");
        }
    }

    /** Removes every instance and credential a provisioning attempt made. */
    private void removeHalfMade(UUID id) {
        for (Instance instance : instances.forDatabase(id)) {
            runtime.destroy(instance.id());
            instances.delete(instance.id());
        }
        credentials.deleteAll(id);
    }

    private static KeelException cancelled(String why) {
        return new KeelException(ProblemType.BEING_DELETED, "Provisioning stopped because " + why + ".");
    }
}
