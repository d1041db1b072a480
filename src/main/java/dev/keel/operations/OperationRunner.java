package dev.keel.operations;

import dev.keel.DaemonThreads;
import dev.keel.Fatal;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.Failure;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.BeanProvider;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs operations on a small pool of background threads, fairly between teams and one at a time
 * per database (a delete waits for the provision it interrupts). Submitted operations wait in a
 * queue per team; whenever a thread is free, the teams take turns: the next team in the rotation
 * that has an operation whose database is not busy gets the thread. A team that queues a hundred
 * operations so delays another team's next operation by at most one operation of its own per
 * free thread, and no thread ever waits on a busy database. A team that holds a thread never takes
 * the last free one ({@link #mayTake}), which stays for a team that holds none: however long one
 * team's operations run (a restore from a URL that trickles, a dump that restores slowly), it holds
 * all threads but one, and another team's next operation finds a thread. Recovery, and work
 * another node hands to this one and waits for ({@link #KEELS_OWN}), may take the last free thread
 * all the same, and counts toward its team's like any other. An operation that changes its
 * database's instances runs only while holding the database's lease ({@link DatabaseLeases});
 * when another actor (the HA monitor failing it over) holds it, the database's operations step
 * aside for {@link #LEASE_RETRY_MILLIS} and keep their order. On shutdown it lets running work
 * finish for a while; whatever is cut off, or still queued, stays {@code running} in the catalog
 * for the {@link Reconciler}. An operation recorded for another node (it hosts the database's
 * servers) is not run here: that node is told, and its {@link OperationInbox} brings it to its runner.
 */
@Singleton
public final class OperationRunner {
    private static final Logger LOG = LoggerFactory.getLogger(OperationRunner.class);
    private static final long SHUTDOWN_PATIENCE_SECONDS = 15;
    static final long LEASE_RETRY_MILLIS = 1000;
    /** The queue of operations that belong to no team (none today; kept apart from every team's). */
    private static final UUID NO_TEAM = new UUID(0, 0);

    // A provider, not a list: handlers submit work to this runner, so they are looked up on use.
    private final BeanProvider<OperationHandler> handlers;
    private final OperationRepository operations;
    private final DatabaseLeases leases;
    private final String node;
    private final MeterRegistry meters;
    private final ExecutorService executor;
    private final ScheduledExecutorService later;
    private final Object lock = new Object();
    /** Waiting operations by team, in the order the teams take turns (the team served last moves to the end). */
    private final LinkedHashMap<UUID, Deque<Operation>> waiting = new LinkedHashMap<>();
    /** When each team was last given a thread, in turns counted from Keel's start (one small entry per team). */
    private final Map<UUID, Long> lastServed = new HashMap<>();
    private long turns;
    private final Set<UUID> busyDatabases = new HashSet<>();
    /** Databases whose lease another actor held when their operation came up, until when (System.nanoTime) they step aside. */
    private final Map<UUID, Long> deferred = new HashMap<>();
    /** The operations this runner has, queued or running: one that reaches it twice (recorded here, and read by the inbox) runs once. */
    private final Set<UUID> accepted = ConcurrentHashMap.newKeySet();
    /** How many threads each team's operations hold now (teams holding none are not listed). */
    private final Map<UUID, Integer> running = new HashMap<>();
    private int freeThreads;
    private boolean stopping;

    OperationRunner(BeanProvider<OperationHandler> handlers, OperationRepository operations, DatabaseLeases leases, ThisNode node,
                    MeterRegistry meters, @Value("${keel.operations.threads}") int threads) {
        this.handlers = handlers;
        this.operations = operations;
        this.leases = leases;
        this.node = node.name();
        this.meters = meters;
        this.freeThreads = threads;
        AtomicInteger count = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(threads, r -> {
            Thread thread = new Thread(r, "keel-operation-" + count.incrementAndGet());
            thread.setDaemon(false);
            return thread;
        });
        this.later = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-operation-retry"));
        Gauge.builder("keel.operations.queued", this, OperationRunner::queued)
                .description("Operations waiting for a free operation thread").register(meters);
    }

    /**
     * The work the last free thread is not kept from: recovery (a failover or switchover, a standby
     * or follower made anew, a forgotten node's primary made anew), which a team's long operations
     * must not delay, and what another node hands to the one hosting the servers (settings applied,
     * retired servers removed), which that node's request waits for.
     */
    static final Set<OperationKind> KEELS_OWN = EnumSet.of(OperationKind.FAILOVER, OperationKind.STANDBY, OperationKind.REBUILD,
            OperationKind.REMAKE, OperationKind.RECONFIGURE, OperationKind.DISCARD);

    /**
     * Whether an operation of a team that holds {@code held} threads (its own work, not Keel's) may
     * take one of {@code free}: not the last one while it holds any, so that one stays for a team
     * that holds none.
     */
    static boolean mayTake(int held, int free) {
        return held == 0 || free > 1;
    }

    OperationHandler handler(OperationKind kind) {
        return handlers.stream().filter(h -> h.kind() == kind).findFirst()
                .orElseThrow(() -> new IllegalStateException("no handler for operations of kind " + kind.value()));
    }

    /**
     * Runs {@code operation} in the background, when its team's turn comes and its database is
     * free; or, when it is another node's to run, tells that node.
     */
    public void submit(Operation operation) {
        if (operation.node() != null && !operation.node().equals(node)) {
            LOG.info("Operation {} {} goes to node {}, which hosts its database's servers", operation.kind().value(), operation.id(),
                    operation.node());
            try {
                operations.announce(operation.node());
            } catch (RuntimeException catalogOutOfReach) {
                LOG.warn("Could not notify node {} of operation {} ({}); it finds it when it next looks", operation.node(),
                        operation.id(), catalogOutOfReach.getMessage());
            }
            return;
        }
        if (!accepted.add(operation.id())) {
            return;
        }
        synchronized (lock) {
            waiting.computeIfAbsent(team(operation), t -> new ArrayDeque<>()).addLast(operation);
        }
        dispatch();
    }

    /** The operations this runner has, queued or running. */
    Set<UUID> accepted() {
        return Set.copyOf(accepted);
    }

    /** Whether operation {@code id} waits in this runner's queue, not yet running. */
    public boolean waiting(UUID id) {
        synchronized (lock) {
            return waiting.values().stream().anyMatch(queue -> queue.stream().anyMatch(operation -> operation.id().equals(id)));
        }
    }

    /** How many operations wait for a thread, all teams together. */
    public int queued() {
        synchronized (lock) {
            return waiting.values().stream().mapToInt(Deque::size).sum();
        }
    }

    /** Hands free threads to waiting operations, the teams taking turns. */
    private void dispatch() {
        synchronized (lock) {
            while (freeThreads > 0 && !stopping) {
                Operation next = takeNext();
                if (next == null) {
                    return;
                }
                freeThreads--;
                running.merge(team(next), 1, Integer::sum);
                if (next.databaseId() != null) {
                    busyDatabases.add(next.databaseId());
                }
                executor.execute(() -> run(next));
            }
        }
    }

    /**
     * The earliest runnable operation (whose database is not busy; a database's operations keep
     * their order) of the team served least recently among those below their cap, or null. A team
     * that waited while another was served goes before it, however long that other team's queue.
     */
    private Operation takeNext() {
        UUID chosenTeam = null;
        Operation chosen = null;
        for (Map.Entry<UUID, Deque<Operation>> team : waiting.entrySet()) {
            boolean keelsOwnOnly = !mayTake(running.getOrDefault(team.getKey(), 0), freeThreads);
            Operation runnable = firstRunnable(team.getValue(), keelsOwnOnly);
            if (runnable != null && (chosen == null || served(team.getKey()) < served(chosenTeam))) {
                chosenTeam = team.getKey();
                chosen = runnable;
            }
        }
        if (chosen == null) {
            return null;
        }
        Deque<Operation> queue = waiting.get(chosenTeam);
        queue.remove(chosen);
        if (queue.isEmpty()) {
            waiting.remove(chosenTeam);
        }
        lastServed.put(chosenTeam, ++turns);
        return chosen;
    }

    private long served(UUID team) {
        return lastServed.getOrDefault(team, 0L);
    }

    /** The first operation of {@code queue} whose database is free (of Keel's own work only, when {@code keelsOwnOnly}), or null. */
    private Operation firstRunnable(Deque<Operation> queue, boolean keelsOwnOnly) {
        Set<UUID> passed = new HashSet<>();
        long now = System.nanoTime();
        deferred.values().removeIf(until -> until - now <= 0);
        for (Operation operation : queue) {
            UUID database = operation.databaseId();
            // An operation passed over keeps its database's later ones behind it: a database's operations keep their order.
            boolean free = database == null || !busyDatabases.contains(database) && !deferred.containsKey(database) && passed.add(database);
            if (free && (!keelsOwnOnly || KEELS_OWN.contains(operation.kind()))) {
                return operation;
            }
        }
        return null;
    }

    private static UUID team(Operation operation) {
        return operation.teamId() == null ? NO_TEAM : operation.teamId();
    }

    private void run(Operation operation) {
        MDC.put("operation", operation.id().toString());
        if (operation.databaseId() != null) {
            MDC.put("database", operation.databaseId().toString());
        }
        long started = System.nanoTime();
        String outcome = OperationState.FAILED.value();
        DatabaseLeases.Lease lease = null;
        boolean ended = false;
        try {
            if (!stillRunning(operation)) {
                outcome = "gone"; // handed here by a read that an end of it overtook
                return;
            }
            OperationHandler handler = handler(operation.kind());
            if (operation.databaseId() != null && handler.holdsDatabase()) {
                try {
                    lease = leases.tryAcquire(operation.databaseId(), "operation " + operation.id()).orElse(null);
                } catch (RuntimeException catalogOutOfReach) {
                    LOG.warn("Operation {} waits: its database's lease cannot be taken ({})", operation.kind().value(),
                            catalogOutOfReach.getMessage());
                }
                if (lease == null) {
                    stepAside(operation);
                    outcome = "deferred";
                    return;
                }
            }
            if (!operations.begin(operation.id())) {
                LOG.warn("Operation {} {} is not begun here: another node took it over while this one was silent",
                        operation.kind().value(), operation.id());
                outcome = "gone";
                return;
            }
            LOG.info("Operation {} started", operation.kind().value());
            handler.run(operation);
            // The database goes before the end is recorded: whoever sees the operation ended finds its database free.
            closeQuietly(lease);
            lease = null;
            operations.succeed(operation.id());
            outcome = OperationState.SUCCEEDED.value();
            ended = true;
            LOG.info("Operation {} succeeded", operation.kind().value());
        } catch (Throwable e) {
            Fatal.haltIfFatal(e);
            Failure failure = Failure.of(e,
                    operation.kind().value() + " failed; Keel's log has the details under operation " + operation.id());
            LOG.error("Operation {} failed", operation.kind().value(), e);
            closeQuietly(lease);
            lease = null;
            try {
                operations.fail(operation.id(), failure);
                ended = true;
            } catch (RuntimeException recordFailure) {
                LOG.error("Could not record the failure of operation {}", operation.id(), recordFailure);
            }
        } finally {
            closeQuietly(lease);
            if (ended || outcome.equals("gone")) {
                // One whose end could not be recorded stays this runner's: it is not taken again (and run twice) from the
                // catalog, where it still says running, but settled by the reconciler at the next start.
                accepted.remove(operation.id());
            }
            if (!outcome.equals("deferred") && !outcome.equals("gone")) {
                Timer.builder("keel.operation.duration").description("Operations run, by kind and how they ended, and how long they took")
                        .tags("kind", operation.kind().value(), "state", outcome).register(meters)
                        .record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
            }
            synchronized (lock) {
                freeThreads++;
                running.computeIfPresent(team(operation), (team, held) -> held == 1 ? null : held - 1);
                if (operation.databaseId() != null) {
                    busyDatabases.remove(operation.databaseId());
                }
            }
            MDC.clear();
            dispatch();
        }
    }

    /** Whether the catalog still has {@code operation} running; when the catalog cannot say, the handler meets the outage itself. */
    private boolean stillRunning(Operation operation) {
        try {
            return operations.stillRunning(operation.id());
        } catch (RuntimeException catalogOutOfReach) {
            return true;
        }
    }

    /**
     * Puts {@code operation} back at the head of its team's queue, its database stepping aside for
     * a moment: another actor holds the database's lease (the HA monitor acting on it, or another node).
     */
    private void stepAside(Operation operation) {
        try {
            leases.holder(operation.databaseId()).ifPresent(holder -> LOG.info("Operation {} waits: {} holds its database's lease",
                    operation.kind().value(), holder));
        } catch (RuntimeException catalogOutOfReach) {
            // Said above; the operation waits all the same.
        }
        synchronized (lock) {
            waiting.computeIfAbsent(team(operation), t -> new ArrayDeque<>()).addFirst(operation);
            deferred.put(operation.databaseId(), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LEASE_RETRY_MILLIS));
        }
        try {
            later.schedule(this::dispatch, LEASE_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException stopping) {
            // Keel is stopping: the operation stays running in the catalog for the reconciler.
        }
    }

    private static void closeQuietly(@Nullable DatabaseLeases.Lease lease) {
        if (lease == null) {
            return;
        }
        try {
            lease.close();
        } catch (RuntimeException e) {
            LOG.warn("Could not release the lease of {}; it expires on its own", lease, e);
        }
    }

    @PreDestroy
    void shutdown() throws InterruptedException {
        synchronized (lock) {
            stopping = true;
        }
        later.shutdownNow();
        executor.shutdown();
        if (!executor.awaitTermination(SHUTDOWN_PATIENCE_SECONDS, TimeUnit.SECONDS)) {
            LOG.warn("Stopping with operations still running; they resume when Keel starts again");
        }
    }
}
