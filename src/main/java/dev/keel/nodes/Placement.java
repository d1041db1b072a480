package dev.keel.nodes;

import dev.keel.catalog.AdvisoryLock;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.convert.format.ReadableBytes;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Where a new database's servers go. A node has room for it while its instances' memory (counted
 * by plan, {@link PlanFootprint}) leaves enough of its memory budget, its port range a port for each
 * new server (a warm instance already holds one), and its disk, as its last heartbeat read it, at
 * least {@code keel.disk.min-free} free and less used than its disk budget. The node that serves
 * the request takes it while it is not drained and has room; otherwise the active node (not
 * drained, heartbeating) with room that hosts the fewest instances makes it (the operation is
 * recorded for that node). Free disk and ports of the node asked are checked again, exactly, as it
 * makes the server ({@code instances.Capacity}). The warm pool fills only on a node that is not
 * drained. A new database counts against its node from the moment it is recorded there, not only
 * once its servers are reserved, and the choice and the record are one transaction under the
 * placement lock, so that two new databases never take one node's last room. The same holds for a
 * hot standby: from the moment its database is owed one (its primary made, a plan change to a plan
 * with one, a failover) it counts on the node it would go to ({@link #withOwedStandbys}), and its
 * build, which the HA monitor records once the timeline has a backup, counts on the node chosen
 * then, under the lock (with no node with room, the monitor builds it beside its primary all the
 * same). A provision recorded for a node that was
 * then lost before it began is taken over by the least busy active node with room
 * ({@code OperationInbox}), chosen and moved under the same lock. A plan change counts against its
 * servers' node from the moment it is recorded, checked under the lock ({@link #holdForPlan}); a
 * warm instance is made only while its node has room ({@link #noRoomForWarm}, without the lock).
 */
@Singleton
public final class Placement {
    private final NodeRepository nodes;
    private final DSLContext dsl;
    private final ThisNode node;
    private final PlanFootprint footprint;
    private final long minFreeMb;

    /** The node chosen for a new database, and whether it is this one. */
    public record Placed(String node, boolean here) {
    }

    /**
     * What a new database needs of its node: its plan, how many servers it starts with (2 with a
     * hot standby), and the Postgres major a warm instance would have to be of ({@code -1}: a
     * copy, which takes none); or a hot standby of database {@code standbyOf}, on {@code plan}, or a
     * new warm instance (no plan), as {@code purpose} says.
     */
    public record Demand(Purpose purpose, @Nullable String plan, int servers, int warmMajor, @Nullable UUID standbyOf) {
        public Demand(String plan, int servers, int warmMajor) {
            this(Purpose.DATABASE, plan, servers, warmMajor, null);
        }

        /** One hot standby of database {@code database} ({@code standbyOf}), on {@code plan}: the room it is owed is what it asks for, not counted twice. */
        public static Demand standby(UUID database, String plan) {
            return new Demand(Purpose.STANDBY, plan, 1, -1, database);
        }

        /** What the demand is for, in an operator's words. */
        String what() {
            return switch (purpose) {
                case DATABASE -> "the new database (plan " + plan + ")";
                case STANDBY -> "a hot standby (plan " + plan + ")";
                case WARM -> "a warm instance";
            };
        }
    }

    /** What a demand of room is for. */
    public enum Purpose { DATABASE, STANDBY, WARM }

    /** The states in which an instance's server runs, or is about to, and counts against the memory budget. */
    private static final Set<String> LIVE = Set.of("creating", "running", "pooled");

    /** Why a node has no room for a demand: what runs short, worded for an operator. */
    record Shortage(Kind kind, String sentence) {
        enum Kind { MEMORY, DISK_BUDGET, DISK_FREE, PORTS }

        /** Whether the node asked words this shortage itself, exactly, when it makes the server ({@code instances.Capacity}). */
        boolean checkedWhereMade() {
            return kind == Kind.DISK_FREE || kind == Kind.PORTS;
        }
    }

    Placement(NodeRepository nodes, DSLContext dsl, ThisNode node, PlanFootprint footprint,
              @Value("${keel.disk.min-free}") @ReadableBytes long minFreeBytes) {
        this.nodes = nodes;
        this.dsl = dsl;
        this.node = node;
        this.footprint = footprint;
        this.minFreeMb = minFreeBytes / (1024 * 1024);
    }

    /** Whether this node takes new instances (a warm pool does not fill on a drained node). */
    public boolean open() {
        return nodes.find(node.name()).map(row -> !row.drained()).orElse(true);
    }

    /**
     * What this node lacks for one more warm instance, if anything: memory budget (a warm instance
     * counts as the smallest plan's server), a port, disk. Read without the placement lock: the
     * warm pool's refill runs in the background, one instance at a time, so that a new database and
     * a refill asked for at one moment may pass the budget by that one warm instance at most.
     */
    public Optional<String> noRoomForWarm() {
        List<NodeRepository.Row> all = nodes.all(dsl);
        return all.stream().filter(row -> row.name().equals(node.name())).findFirst()
                .flatMap(row -> shortage(row, hostedByNode(dsl, all, null).getOrDefault(row.name(), List.of()),
                        new Demand(Purpose.WARM, null, 1, -1, null), footprint, minFreeMb)).map(Shortage::sentence);
    }

    /**
     * The node a new database goes to, asked before anything is recorded: the least busy active
     * node with room other than {@code awayFrom} (a follower's leader's) when there is one; else
     * this one while it is not drained and has room; else the least busy active node with room. A
     * 503 {@code no-capacity} when none has room, naming what each lacks; when this node is open
     * and lacks only free disk or ports, it is chosen, and its own exact check refuses.
     */
    public Placed choose(@Nullable String awayFrom, Demand demand) {
        return choose(dsl, awayFrom, demand);
    }

    /**
     * {@link #choose(String, Demand)}, read in transaction {@code tx}, which records the database
     * for the node chosen: {@code tx} first takes the placement lock, so that two requests, on one
     * node or two, never both count a node's last room as theirs. A database recorded and not yet
     * made counts against its node ({@link NodeRepository#pending}).
     */
    public Placed chooseAndHold(DSLContext tx, @Nullable String awayFrom, Demand demand) {
        AdvisoryLock.PLACEMENT.acquire(tx);
        return choose(tx, awayFrom, demand);
    }

    private Placed choose(DSLContext sql, @Nullable String awayFrom, Demand demand) {
        Survey survey = survey(sql, demand);
        if (awayFrom != null) {
            Optional<String> other = survey.leastBusyWithRoom(row -> !row.name().equals(awayFrom));
            if (other.isPresent()) {
                return new Placed(other.get(), other.get().equals(node.name()));
            }
        }
        Optional<NodeRepository.Row> self = nodes.find(sql, node.name());
        boolean open = self.isEmpty() || !self.get().drained();
        Optional<Shortage> here = survey.shortages().getOrDefault(node.name(), Optional.empty());
        if (open && here.isEmpty()) {
            return new Placed(node.name(), true);
        }
        Optional<String> other = survey.leastBusyWithRoom(row -> true);
        if (other.isPresent()) {
            return new Placed(other.get(), other.get().equals(node.name()));
        }
        if (open && here.get().checkedWhereMade()) {
            return new Placed(node.name(), true);
        }
        Map<String, Optional<Shortage>> shortages = survey.shortages();
        List<String> others = shortages.entrySet().stream().filter(e -> !e.getKey().equals(node.name()))
                .map(e -> "node " + e.getKey() + ": " + e.getValue().map(Shortage::sentence).orElse("")).toList();
        if (!open) {
            NodeRepository.Row drained = self.get();
            throw new KeelException(ProblemType.NO_CAPACITY, "Node " + drained.name() + " is draining (since "
                    + drained.drainedAt().toInstant().truncatedTo(ChronoUnit.SECONDS) + "), so Keel places no new instance on it, and no"
                    + " other node is active " + (others.isEmpty() ? "" : "with room ") + "to take one"
                    + (others.isEmpty() ? "" : " (" + String.join("; ", others) + ")") + "; undo it with POST /v1/nodes/" + drained.name()
                    + "/activate, or start another node, then try again. Nothing was created.");
        }
        throw new KeelException(ProblemType.NO_CAPACITY, "No node has room for a new database on plan " + demand.plan() + " (node "
                + node.name() + ": " + here.get().sentence() + others.stream().map(o -> "; " + o).collect(Collectors.joining()) + ")."
                + " Delete unused databases, give the setting named more room (a node reads its budgets when it starts), or start"
                + " another node, then try again. Nothing was created.");
    }

    /**
     * Takes over the making of {@code database}, which a silent node never began, when this node is
     * the one to: the active node with room for its plan that hosts the fewest instances, away from
     * its leader's node when it is a follower and another node has room, among the nodes whose
     * builds carry migration {@code writerMigration}, the newest its recording build knew (those
     * that take over such work, {@code OperationRepository.neverBegunOn}). None takes it while no
     * node has room: it then waits for its own node. The choice and {@code take} (which moves the
     * operation to this node, in the transaction given) run under the placement lock, as a new
     * database's do, so that a take-over and a new database never both count one node's last room.
     * What {@code take} returned, else empty.
     */
    public <T> Optional<T> takeOver(UUID database, int writerMigration, Function<DSLContext, Optional<T>> take) {
        return dsl.transactionResult(configuration -> {
            DSLContext tx = configuration.dsl();
            AdvisoryLock.PLACEMENT.acquire(tx);
            Optional<NodeRepository.Making> making = nodes.making(tx, database);
            if (making.isEmpty()) {
                return Optional.<T>empty();
            }
            NodeRepository.Making made = making.get();
            Survey survey = survey(tx, new Demand(made.plan(), made.following() ? 1 : footprint.servers(made.plan()),
                    made.following() ? -1 : made.major()));
            String awayFrom = made.leaderNode();
            Predicate<NodeRepository.Row> reads = knowing(writerMigration);
            Optional<String> taker = awayFrom == null ? Optional.empty()
                    : survey.leastBusyWithRoom(reads.and(row -> !row.name().equals(awayFrom)));
            boolean here = taker.or(() -> survey.leastBusyWithRoom(reads)).filter(node.name()::equals).isPresent();
            return here ? take.apply(tx) : Optional.<T>empty();
        });
    }

    /** The active nodes, what each hosts, and what each lacks for one demand. */
    private record Survey(List<NodeRepository.Row> active, Map<String, List<NodeRepository.Hosted>> hosted,
                          Map<String, Optional<Shortage>> shortages) {
        Optional<String> leastBusyWithRoom(Predicate<NodeRepository.Row> eligible) {
            return leastBusy(active, hosted, eligible.and(row -> shortages.get(row.name()).isEmpty()));
        }
    }

    private Survey survey(DSLContext sql, Demand demand) {
        List<NodeRepository.Row> all = nodes.all(sql);
        return survey(all, hostedByNode(sql, all, demand.standbyOf()), demand);
    }

    /** What each of the active nodes among {@code all}, hosting {@code hosted}, lacks for {@code demand}. */
    private Survey survey(List<NodeRepository.Row> all, Map<String, List<NodeRepository.Hosted>> hosted, Demand demand) {
        List<NodeRepository.Row> active = active(all);
        Map<String, Optional<Shortage>> shortages = new TreeMap<>();
        for (NodeRepository.Row row : active) {
            shortages.put(row.name(), shortage(row, hosted.getOrDefault(row.name(), List.of()), demand, footprint, minFreeMb));
        }
        return new Survey(active, hosted, shortages);
    }

    private List<NodeRepository.Row> active(List<NodeRepository.Row> all) {
        return all.stream().filter(row -> state(row) == NodeState.ACTIVE).toList();
    }

    /**
     * What each node hosts, the servers recorded for it and not reserved yet, and the hot standbys
     * owed that would go to it (among the nodes {@code all}), but the one owed to database
     * {@code except}, if any: the standby being placed.
     */
    private Map<String, List<NodeRepository.Hosted>> hostedByNode(DSLContext sql, List<NodeRepository.Row> all, @Nullable UUID except) {
        // Pending, then the servers, then the standbys owed: each statement reads what was committed when it began, and a server
        // reserved, or a standby owed (a primary made, a standby removed, a build that failed), between two of them is then
        // counted twice for a moment, never not at all. A standby build recorded between them (always under the placement lock)
        // can go uncounted for a moment in a read without the lock (choose, noRoomForWarm), never in one under it.
        List<NodeRepository.Hosted> pending = pendingServers(sql).toList();
        Map<String, List<NodeRepository.Hosted>> hosted = Stream.concat(pending.stream(), nodes.hosted(sql).stream())
                .collect(Collectors.groupingBy(NodeRepository.Hosted::node));
        List<NodeRepository.Owed> owed = nodes.owedStandbys(sql, footprint.withStandby()).stream()
                .filter(o -> !o.databaseId().equals(except)).toList();
        // The monitor builds a standby on a node of its own version only (during a rolling upgrade).
        List<NodeRepository.Row> standbyNodes = active(all).stream().filter(row -> row.version().equals(node.version())).toList();
        return withOwedStandbys(standbyNodes, hosted, owed, footprint, minFreeMb);
    }

    /**
     * {@code hosted} with a server for each hot standby {@code owed} (oldest first) on the node it
     * would go to, as the HA monitor chooses: the least busy of {@code candidates} (the active nodes
     * of this version) other than its primary's with room for it, else its primary's (where the monitor builds it when no other node has
     * room). Its room then stays taken between the moment a database is owed a standby (its
     * provision's primary made, a plan change to a plan with one, a failover) and its build's
     * record, which counts from then on ({@link NodeRepository#pending}).
     */
    static Map<String, List<NodeRepository.Hosted>> withOwedStandbys(List<NodeRepository.Row> candidates,
                                                                    Map<String, List<NodeRepository.Hosted>> hosted,
                                                                    List<NodeRepository.Owed> owed, PlanFootprint footprint,
                                                                    long minFreeMb) {
        Map<String, List<NodeRepository.Hosted>> with = new TreeMap<>();
        hosted.forEach((name, servers) -> with.put(name, new ArrayList<>(servers)));
        for (NodeRepository.Owed standby : owed) {
            Demand demand = Demand.standby(standby.databaseId(), standby.plan());
            String where = candidates.stream()
                    .filter(row -> !row.name().equals(standby.primaryNode())
                            && shortage(row, with.getOrDefault(row.name(), List.of()), demand, footprint, minFreeMb).isEmpty())
                    .min(leastBusyFirst(with)).map(NodeRepository.Row::name)
                    .orElse(standby.primaryNode());
            with.computeIfAbsent(where, name -> new ArrayList<>())
                    .add(NodeRepository.Hosted.unreserved(standby.databaseId(), standby.plan(), "standby", where));
        }
        return with;
    }

    /**
     * Refuses, with a 503 {@code no-capacity}, moving {@code database} to plan {@code plan} when a
     * node that hosts its servers has not the memory budget left for the larger plan, or when the
     * plan adds a server (the hot standby; never to a {@code following} database) and no active
     * node has room for it. Run in the
     * transaction that records the new plan (the plan counts from that moment): it first takes the
     * placement lock, so that the plan's room and a new database's are never both counted as
     * free. The standby's room is then held from the commit on, as every owed standby's is
     * ({@link #withOwedStandbys}); the HA monitor chooses its node when it records the build.
     */
    public void holdForPlan(DSLContext tx, UUID database, boolean following, String plan) {
        AdvisoryLock.PLACEMENT.acquire(tx);
        List<NodeRepository.Row> all = nodes.all(tx);
        Map<String, List<NodeRepository.Hosted>> before = hostedByNode(tx, all, database);
        Map<String, List<NodeRepository.Hosted>> after = new TreeMap<>();
        before.forEach((name, hosted) -> after.put(name, hosted.stream()
                .map(h -> database.equals(h.databaseId()) ? h.onPlan(plan) : h).toList()));
        for (NodeRepository.Row row : all) {
            long was = reservedMb(before.getOrDefault(row.name(), List.of()), footprint);
            long will = reservedMb(after.getOrDefault(row.name(), List.of()), footprint);
            if (row.memoryBudgetMb() > 0 && will > was && will > row.memoryBudgetMb()) {
                throw new KeelException(ProblemType.NO_CAPACITY, "Node " + row.name() + ", which runs this database's servers, has no"
                        + " room for plan " + plan + ": its servers count for " + was + " MB of its " + row.memoryBudgetMb()
                        + " MB memory budget (KEEL_NODE_MEMORY_BUDGET_MB), and the plan needs " + (will - was) + " MB more there."
                        + " Delete unused databases on it or give it more room (a node reads its budgets when it starts), then try"
                        + " again. The plan is unchanged.");
            }
        }
        long live = before.values().stream().flatMap(List::stream)
                .filter(h -> database.equals(h.databaseId()) && LIVE.contains(h.state())).count();
        // A follower has no hot standby on any plan.
        if (!following && footprint.servers(plan) > live) {
            Survey survey = survey(all, after, Demand.standby(database, plan));
            if (survey.leastBusyWithRoom(row -> true).isEmpty()) {
                String each = survey.shortages().entrySet().stream()
                        .map(e -> "node " + e.getKey() + ": " + e.getValue().map(Shortage::sentence).orElse("")).collect(Collectors.joining("; "));
                throw new KeelException(ProblemType.NO_CAPACITY, "No node has room for the hot standby plan " + plan + " adds ("
                        + (each.isEmpty() ? "no node is active: every node is draining or silent" : each) + "). Delete unused databases,"
                        + " give a node more room, activate a drained node or start another, then try again. The plan is unchanged.");
            }
        }
    }

    /** The servers recorded and not reserved yet (of databases not yet made, and new standbys) ({@link NodeRepository.Hosted#unreserved}). */
    private Stream<NodeRepository.Hosted> pendingServers(DSLContext sql) {
        return nodes.pending(sql).stream().flatMap(p -> IntStream.range(0, p.standbyOnly() || p.following() ? 1 : footprint.servers(p.plan()))
                .mapToObj(i -> NodeRepository.Hosted.unreserved(p.databaseId(), p.plan(), i == 0 && !p.standbyOnly() ? "primary" : "standby",
                        p.node())));
    }

    /**
     * What node {@code row}, hosting {@code hosted}, lacks for {@code demand}, if anything: memory
     * (its instances counted by {@code memory} against its budget), a port per new server beyond
     * its warm instances, free disk above {@code minFreeMb}, or disk under its budget (both as its
     * last heartbeat read them; unknown counts as room).
     */
    static Optional<Shortage> shortage(NodeRepository.Row row, List<NodeRepository.Hosted> hosted, Demand demand, PlanFootprint memory,
                                       long minFreeMb) {
        long reserved = reservedMb(hosted, memory);
        long needed = demand.servers() * memory.memoryMb(demand.plan());
        if (row.memoryBudgetMb() > 0 && reserved + needed > row.memoryBudgetMb()) {
            return Optional.of(new Shortage(Shortage.Kind.MEMORY, "its servers count for " + reserved + " MB of its " + row.memoryBudgetMb()
                    + " MB memory budget (KEEL_NODE_MEMORY_BUDGET_MB), and " + demand.what() + " needs " + needed + " MB more"));
        }
        if (row.diskFreeMb() != null && row.diskFreeMb() < minFreeMb) {
            return Optional.of(new Shortage(Shortage.Kind.DISK_FREE, "its disk has " + row.diskFreeMb() + " MB free, less than"
                    + " KEEL_DISK_MIN_FREE (" + minFreeMb + " MB)"));
        }
        if (row.diskUsedMb() != null && row.diskUsedMb() >= row.diskBudgetMb()) {
            return Optional.of(new Shortage(Shortage.Kind.DISK_BUDGET, "its disk has " + row.diskUsedMb() + " MB used, its whole "
                    + row.diskBudgetMb() + " MB disk budget (KEEL_NODE_DISK_BUDGET_MB)"));
        }
        boolean warm = hosted.stream().anyMatch(h -> h.databaseId() == null && "pooled".equals(h.state()) && h.major() == demand.warmMajor());
        long freePorts = row.portLast() - row.portFirst() + 1L - hosted.size();
        long portsNeeded = demand.servers() - (warm ? 1 : 0);
        if (freePorts < portsNeeded) {
            return Optional.of(new Shortage(Shortage.Kind.PORTS, "its instance port range " + row.portFirst() + "-" + row.portLast()
                    + " (KEEL_INSTANCES_PORTS) has " + Math.max(0, freePorts) + " ports free, and " + demand.what() + " needs " + portsNeeded));
        }
        return Optional.empty();
    }

    /** The memory {@code hosted}'s servers count for: those that run or are about to (a warm one at the smallest plan's). */
    static long reservedMb(List<NodeRepository.Hosted> hosted, PlanFootprint memory) {
        return hosted.stream().filter(h -> LIVE.contains(h.state()))
                .mapToLong(h -> memory.memoryMb(h.databaseId() == null ? null : h.plan())).sum();
    }

    /**
     * The active node (not drained, heartbeating) that hosts the fewest instances, the first by name
     * among equals, of those whose builds carry migration {@code writerMigration} (see {@link #takeOver}).
     */
    public Optional<String> leastBusy(int writerMigration) {
        Map<String, List<NodeRepository.Hosted>> hosted = nodes.hosted().stream().collect(Collectors.groupingBy(NodeRepository.Hosted::node));
        return leastBusy(nodes.all().stream().filter(row -> state(row) == NodeState.ACTIVE).toList(), hosted, knowing(writerMigration));
    }

    /** The nodes whose builds carry catalog migration {@code migration}. */
    private static Predicate<NodeRepository.Row> knowing(int migration) {
        return row -> row.migration() >= migration;
    }

    private static Optional<String> leastBusy(List<NodeRepository.Row> active, Map<String, List<NodeRepository.Hosted>> hosted,
                                              Predicate<NodeRepository.Row> eligible) {
        return active.stream().filter(eligible).min(leastBusyFirst(hosted)).map(NodeRepository.Row::name);
    }

    /** Nodes ordered by how many instances each hosts in {@code hosted}, then by name. */
    private static Comparator<NodeRepository.Row> leastBusyFirst(Map<String, List<NodeRepository.Hosted>> hosted) {
        return Comparator.comparing((Function<NodeRepository.Row, Integer>) row -> hosted.getOrDefault(row.name(), List.of()).size())
                .thenComparing(NodeRepository.Row::name);
    }

    /**
     * Why node {@code name} cannot be handed work now, if it cannot: it is silent (its heartbeat is
     * older than {@code keel.node.lost-after}), or it runs another version of Keel than this node,
     * which may not know the work's kind (during a rolling upgrade).
     */
    public Optional<String> cannotTake(String name) {
        Optional<NodeRepository.Row> row = nodes.find(name);
        if (row.isEmpty()) {
            return Optional.of("node " + name + " is not registered");
        }
        if (node.isLost(row.get().silence())) {
            return Optional.of("node " + name + " has not heartbeat since " + row.get().heartbeatAt().toInstant().truncatedTo(ChronoUnit.SECONDS));
        }
        return otherVersion(name);
    }

    /** Why node {@code name} may not know work this node hands it, if it may not: it runs another version of Keel. */
    public Optional<String> otherVersion(String name) {
        return otherVersion(dsl, name);
    }

    /** {@link #otherVersion(String)} read through {@code sql} (a transaction holding the placement lock reads on its own connection). */
    public Optional<String> otherVersion(DSLContext sql, String name) {
        return nodes.find(sql, name).filter(row -> !row.version().equals(node.version()))
                .map(row -> "node " + name + " runs Keel " + row.version() + " and this node " + node.version());
    }

    /**
     * The nodes by version, from one read of the registry: {@code active}, those heartbeating and
     * not drained that run this node's version of Keel (where work this version defines, a WAL
     * receiver, may run); {@code otherVersion}, those in whatever state that run another (during a
     * rolling upgrade).
     */
    public record ByVersion(Set<String> active, Set<String> otherVersion) {
    }

    public ByVersion byVersion() {
        Set<String> active = new HashSet<>();
        Set<String> other = new HashSet<>();
        for (NodeRepository.Row row : nodes.all()) {
            if (!row.version().equals(node.version())) {
                other.add(row.name());
            } else if (state(row) == NodeState.ACTIVE) {
                active.add(row.name());
            }
        }
        return new ByVersion(active, other);
    }

    /** How long node {@code name} has not renewed its heartbeat, by the catalog's clock; empty for a node not registered. */
    public Optional<Duration> silentFor(String name) {
        return nodes.silentFor(name);
    }

    /** Whether node {@code name} is registered and its heartbeat is older than {@code keel.node.lost-after}. */
    public boolean lost(String name) {
        return silentFor(name).filter(node::isLost).isPresent();
    }

    /** The nodes whose heartbeat is older than {@code keel.node.lost-after}, drained or not. */
    public Set<String> silent() {
        return nodes.all().stream().filter(row -> node.isLost(row.silence()))
                .map(NodeRepository.Row::name).collect(Collectors.toSet());
    }

    private NodeState state(NodeRepository.Row row) {
        return row.state(node);
    }
}
