package dev.keel.lifecycle;

import dev.keel.DaemonThreads;
import dev.keel.archive.BaseBackups;
import dev.keel.catalog.AdvisoryLock;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.dumps.Transfers;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.NodeView;
import dev.keel.nodes.Nodes;
import dev.keel.nodes.Placement;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.problems.Failure;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.restore.PrimaryRestores;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * An operator's "this node is gone for good" ({@code POST /v1/nodes/{name}/forget}). Keel never
 * decides it alone: a node cut off from the catalog keeps its primaries writable (a catalog outage
 * must take no database down), so making them anew elsewhere on its own would split them in two.
 * Once told, for each database whose primary the node hosted and which has no standby on a live
 * node to fail over to, the old primary is fenced in the catalog, the work the node had begun
 * for it is ended as failed, and a {@code remake} is recorded for the node placement chooses,
 * which makes the primary anew from the database's own archive ({@link PrimaryRemake}). A
 * database with a running standby elsewhere is left to the HA monitor, a follower to the
 * follower watch. Asked again, it does again what is still to do (a database no node had room
 * for).
 */
@Singleton
final class NodeForgetting {
    private static final Logger LOG = LoggerFactory.getLogger(NodeForgetting.class);
    /**
     * The states of a forgotten node's primaries that are made anew: one that served (or was fenced
     * by a forgetting before), and one being made (an available database's: a remake that node ran).
     */
    private static final Set<InstanceState> CANDIDATES = EnumSet.of(InstanceState.RUNNING, InstanceState.STOPPED, InstanceState.FENCED,
            InstanceState.CREATING);
    /** How long the lost primary's port is given to accept a connection: one that does is not down. */
    private static final Duration PROBE = Duration.ofSeconds(1);
    /** How many of those are tried at once. */
    private static final int PROBES = 16;

    private final Nodes nodes;
    private final Placement placement;
    private final InstanceRepository instances;
    private final DatabaseLookup databases;
    private final Plans plans;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final PrimaryRestores restores;
    private final InstanceConnections connections;
    private final BaseBackups backups;
    private final Transfers transfers;
    private final DSLContext dsl;
    private final DatabaseLeases leases;

    NodeForgetting(Nodes nodes, Placement placement, InstanceRepository instances, DatabaseLookup databases, Plans plans,
                   OperationRepository operations, OperationRunner runner, PrimaryRestores restores, InstanceConnections connections,
                   BaseBackups backups, Transfers transfers, DSLContext dsl, DatabaseLeases leases) {
        this.leases = leases;
        this.restores = restores;
        this.connections = connections;
        this.backups = backups;
        this.transfers = transfers;
        this.nodes = nodes;
        this.placement = placement;
        this.instances = instances;
        this.databases = databases;
        this.plans = plans;
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    /** The node as it reads now, and what becomes of each database whose primary it hosted. */
    @Serdeable
    record Forgotten(NodeView node, List<Affected> databases) {
    }

    /**
     * A database whose primary the forgotten node hosted: {@code action} is {@code remake} (made
     * anew on {@code node} by operation {@code operationId}), {@code standby} (left to its hot
     * standby on {@code node}) or {@code waiting} (no node can take it now; {@code detail} says
     * why, and forgetting the node again asks again).
     */
    @Serdeable
    record Affected(UUID id, String name, String action, @Nullable String node, @Nullable UUID operationId, String detail) {
    }

    Forgotten forget(String name, @Nullable String confirm) {
        nodes.find(name); // a 404 for an unknown node before anything else
        if (!name.equals(confirm)) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Forgetting node " + name + " makes anew on other nodes, from their"
                    + " archives, the primaries it hosted of databases without a standby elsewhere; a write one took after its WAL was"
                    + " last stored is lost (it stays on " + name + "'s disk, set aside should the node return). To confirm, send"
                    + " {\"confirm\":\"" + name + "\"}.");
        }
        dsl.transaction(tx -> nodes.forget(tx.dsl(), name));
        LOG.warn("Node {} was forgotten by an operator: the primaries it hosted are made anew elsewhere from their archives", name);
        Map<UUID, Instance> lostPrimaries = new LinkedHashMap<>();
        for (Instance lost : instances.all()) {
            if (name.equals(lost.node()) && lost.role() == InstanceRole.PRIMARY && lost.databaseId() != null
                    && CANDIDATES.contains(lost.state())) {
                lostPrimaries.put(lost.databaseId(), lost);
            }
        }
        // A remake the node had been given and had not begun (no server of it yet): the primary it was to replace.
        for (UUID database : operations.databasesRunning(OperationKind.REMAKE, name)) {
            if (!lostPrimaries.containsKey(database)) {
                instances.fencedPrimaries(database).stream().filter(fenced -> !name.equals(fenced.node()))
                        .reduce((a, b) -> b).ifPresent(fenced -> lostPrimaries.put(database, fenced));
            }
        }
        Set<UUID> serving = serving(lostPrimaries.values());
        List<Affected> affected = new ArrayList<>();
        lostPrimaries.forEach((database, lost) -> databases.find(database)
                .filter(d -> d.state() == DatabaseState.AVAILABLE && !d.following())
                .flatMap(d -> settle(d, lost, name, serving.contains(lost.id()))).ifPresent(affected::add));
        return new Forgotten(nodes.find(name), affected);
    }

    /**
     * The servers of {@code lost} whose port accepts a connection within {@link #PROBE}, all tried
     * at once: a host cut off answers none, and a node's hundred servers must not take a hundred seconds.
     */
    private Set<UUID> serving(Collection<Instance> lost) {
        if (lost.isEmpty()) {
            return Set.of();
        }
        ExecutorService probes = Executors.newFixedThreadPool(Math.min(PROBES, lost.size()), DaemonThreads.numbered("keel-forget-probe"));
        try {
            Map<UUID, Future<Boolean>> answers = new LinkedHashMap<>();
            for (Instance server : lost) {
                answers.put(server.id(), probes.submit(() -> connections.acceptsConnections(server, PROBE)));
            }
            Set<UUID> serving = new HashSet<>();
            for (Map.Entry<UUID, Future<Boolean>> answer : answers.entrySet()) {
                try {
                    if (answer.getValue().get()) {
                        serving.add(answer.getKey());
                    }
                } catch (ExecutionException e) {
                    serving.add(answer.getKey()); // not known to be down: taken for serving
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while probing the forgotten node's servers", e);
                }
            }
            return serving;
        } finally {
            probes.shutdownNow();
        }
    }

    /**
     * What becomes of {@code database}, whose primary {@code lost} the forgotten node {@code node}
     * hosted (or was to replace), whose port accepted a connection when tried if {@code serving};
     * empty when it is elsewhere now.
     */
    private Optional<Affected> settle(Database database, Instance lost, String node, boolean serving) {
        Optional<Instance> live = instances.primary(database.id());
        if (live.isPresent() && !live.get().id().equals(lost.id())) {
            // A failover made another server its primary, or a remake is making one elsewhere, or made one it failed to finish.
            Optional<Operation> running = operations.running(database.id(), Set.of(OperationKind.REMAKE));
            if (running.isPresent()) {
                return Optional.of(remaking(database, running.get()));
            }
            return live.filter(made -> made.state() == InstanceState.CREATING && made.node() != null && !placement.lost(made.node()))
                    .map(made -> finishing(database, made));
        }
        Optional<Instance> standby = instances.standby(database.id())
                .filter(s -> s.state() == InstanceState.RUNNING && s.node() != null && !s.node().equals(lost.node())
                        && !placement.lost(s.node()));
        if (standby.isPresent()) {
            return Optional.of(new Affected(database.id(), database.name(), "standby", standby.get().node(), null,
                    "its hot standby on node " + standby.get().node() + " takes over: the HA monitor fails over to it (GET /v1/databases/"
                            + database.name() + "/ha says when, or why not)"));
        }
        // Nothing is fenced that cannot be made anew: a fenced server never serves again.
        try {
            restores.origin(database);
        } catch (KeelException e) {
            return waiting(database, e.getMessage() + " It is left as it is; forget node " + node + " again once it can be.");
        }
        if (!placement.lost(node)) {
            return waiting(database, "Node " + node + " heartbeats again, so its server may take writes; nothing was changed.");
        }
        if (serving) {
            // Lost means its Keel is silent, not that its Postgres is down: both serving would split the database in two.
            return waiting(database, "Its server on node " + lost.node() + " (" + lost.host() + ":" + lost.port() + ") still accepts"
                    + " connections, so it may take writes; stop it (or cut its host off) and forget node " + node + " again.");
        }
        // A remake running on another node holds the lease while it runs: it is what becomes of the database.
        Optional<Operation> elsewhere = operations.running(database.id(), Set.of(OperationKind.REMAKE)).filter(op -> !node.equals(op.node()));
        if (elsewhere.isPresent()) {
            return Optional.of(remaking(database, elsewhere.get()));
        }
        // Under the database's lease, as every change to its servers: a deletion, or another change, that holds it goes first, and
        // what it left is read again here. The remake recorded runs once the lease is given back (it takes the lease itself).
        Remake recorded;
        try (DatabaseLeases.Lease lease = leases.tryAcquire(database.id(), "forgetting node " + node).orElse(null)) {
            if (lease == null) {
                return waiting(database, "Another change to it is under way (" + leases.holder(database.id()).orElse("it has just ended")
                        + "); nothing was changed. Forget node " + node + " again once it has ended.");
            }
            if (databases.find(database.id()).filter(d -> d.state() == DatabaseState.AVAILABLE).isEmpty()
                    || !instances.primary(database.id()).map(Instance::id).equals(live.map(Instance::id))) {
                return Optional.empty(); // deleted, or given another primary, meanwhile: asked again, it is read anew
            }
            Optional<Remake> fenced = fenceAndRecord(database, lost, node);
            if (fenced.isEmpty()) {
                return Optional.empty();
            }
            recorded = fenced.get();
        } catch (KeelException e) {
            // No room for another: one recorded by a forgetting asked at the same moment still holds its own.
            Optional<Operation> running = operations.running(database.id(), Set.of(OperationKind.REMAKE));
            return running.isPresent() ? Optional.of(remaking(database, running.get()))
                    : waiting(database, e.getMessage() + " Forget node " + node + " again once a node has room.");
        }
        if (recorded.operation() == null) {
            return waiting(database, "The node with room runs another version of Keel; forget node " + node + " again once the"
                    + " nodes run one version.");
        }
        if (!recorded.now()) {
            return Optional.of(remaking(database, recorded.operation()));
        }
        runner.submit(recorded.operation());
        LOG.warn("Database {}: its primary of forgotten node {} is made anew on node {} (operation {})", database.name(), node,
                recorded.operation().node(), recorded.operation().id());
        return Optional.of(new Affected(database.id(), database.name(), "remake", recorded.operation().node(), recorded.operation().id(),
                "made anew on node " + recorded.operation().node() + " from its archive"));
    }

    /**
     * Fences {@code lost}, the primary of {@code database} that forgotten node {@code node} hosted, ends the work the node held for
     * it, and records its remake for the node placement chooses (under the database's lease); empty when the server was removed
     * meanwhile. Throws when no node has room.
     */
    private Optional<Remake> fenceAndRecord(Database database, Instance lost, String node) {
        if ((lost.state() == InstanceState.RUNNING || lost.state() == InstanceState.STOPPED)
                && instances.transitionIfPresent(lost.id(), InstanceState.FENCED).isEmpty()) {
            return Optional.empty(); // removed meanwhile (a remake another forgetting recorded has finished)
        }
        // Fenced first (above): from here nothing names it as the primary, and its node, should it return, never serves it again.
        String reason = "Node " + node + " was forgotten before this ran to its end; ask again once " + database.name()
                + " is made anew.";
        for (Operation ended : operations.giveUpAllOnSilent(database.id(), node, Failure.of(ProblemType.UNAVAILABLE, reason))) {
            LOG.warn("Database {}: operation {} ({}) node {} held was ended as failed", database.name(), ended.id(), ended.kind().value(),
                    node);
        }
        // Each ended operation's own record ends too (also those a stop between the two left), so that nothing counts it as running.
        backups.abandonOrphans(database.id(), reason);
        transfers.abandonOrphans(database.id(), reason);
        if (lost.state() == InstanceState.CREATING) {
            // A remake the forgotten node was running: its half-made server is forgotten too (the node sets it aside).
            instances.delete(lost.id());
        }
        return Optional.of(dsl.transactionResult(tx -> {
            String chosen = placement.chooseAndHold(tx.dsl(), node,
                    new Placement.Demand(database.plan(), plans.servers(database.plan()), -1)).node();
            // Read under the placement lock, which a forgetting asked at the same moment takes too before it records one.
            Optional<Operation> running = operations.running(database.id(), Set.of(OperationKind.REMAKE));
            if (running.isPresent()) {
                return new Remake(running.get(), false);
            }
            if (placement.otherVersion(tx.dsl(), chosen).isPresent()) {
                return new Remake(null, false);
            }
            return new Remake(operations.create(tx.dsl(), database.teamId(), database.id(), OperationKind.REMAKE,
                    PrimaryRemake.Step.DECIDED, PrimaryRemake.Step.DECIDED.sentence(), PrimaryRemake.STEP_COUNT, chosen), true);
        }));
    }

    /**
     * A remake of {@code database} that failed once its server {@code made} was promoted (its
     * finishing steps could not run), recorded again for the node that has the server, which
     * keeps it and finishes it. Recorded under the placement lock, where a forgetting asked at the
     * same moment looks for a running remake before it records one.
     */
    private Affected finishing(Database database, Instance made) {
        Operation again = dsl.transactionResult(tx -> {
            AdvisoryLock.PLACEMENT.acquire(tx.dsl());
            return operations.running(database.id(), Set.of(OperationKind.REMAKE)).orElseGet(() -> operations.create(tx.dsl(),
                    database.teamId(), database.id(), OperationKind.REMAKE, PrimaryRemake.Step.DECIDED, PrimaryRemake.Step.DECIDED.sentence(),
                    PrimaryRemake.STEP_COUNT, made.node()));
        });
        runner.submit(again);
        LOG.warn("Database {}: the remake of its primary is run again to finish instance {} on node {} (operation {})", database.name(),
                made.id(), made.node(), again.id());
        return remaking(database, again);
    }

    private static Affected remaking(Database database, Operation remake) {
        return new Affected(database.id(), database.name(), "remake", remake.node(), remake.id(), "being made anew on node " + remake.node());
    }

    private static Optional<Affected> waiting(Database database, String why) {
        return Optional.of(new Affected(database.id(), database.name(), "waiting", null, null, why));
    }

    /** A remake of the database: the one recorded now ({@code now}), one already running, or none (null: another version's node). */
    private record Remake(@Nullable Operation operation, boolean now) {
    }
}
