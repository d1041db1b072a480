package dev.keel.replication;

import dev.keel.DaemonThreads;
import dev.keel.archive.SynchronousArchive;
import dev.keel.archive.WalReceivers;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.ServerFence;
import dev.keel.jobs.Loops;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.DatabaseLeases;
import dev.keel.postgres.Durations;
import dev.keel.postgres.ServerSession;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ShutdownEvent;
import io.micronaut.runtime.event.annotation.EventListener;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Synchronous commit to the WAL receiver, for the plans {@link SynchronousArchive} names: a commit
 * is acknowledged only once its WAL is in the object store. Once a second, for each running
 * primary this node hosts whose database is on such a plan, commits are made to wait for the
 * receiver ({@code synchronous_standby_names} names its application name) once it streams and has
 * caught up, under the database's lease; and they are let go (degraded) when one has waited longer
 * than {@code KEEL_HA_SYNC_GRACE}, or the receiver has not streamed for as long, as
 * {@link SyncCommit} decides for a standby. A slow or unreachable store, or a receiver whose node
 * is lost or cut off, so delays writes by at most the grace and never stops them.
 *
 * <p>The primary's own node decides: it reaches its primary whatever is cut between the receiver's
 * node and it. While the catalog does not answer (a round has not ended for {@link #FAILSAFE_AFTER}),
 * a failsafe of its own still lets commits go, from what the rounds last saw; never makes them wait.
 * A node that stops lets its primaries' commits go first; and it hands its primaries to the fence
 * guard ({@link FenceGuards#letGo}), which lets their commits go as a round would while its Keel is
 * down after a crash (on one node the receiver dies with Keel).
 * A primary of this node whose plan does not ask for it has the receiver's name taken out (a plan
 * change, a restart with another setting): at once when its plan changed while this node watched
 * it, else once when this node first sees it. An HA plan is never named (its commits wait for its standby).
 */
@Singleton
public final class ReceiverSyncCommit {
    private static final Logger LOG = LoggerFactory.getLogger(ReceiverSyncCommit.class);
    static final String ACTOR = "synchronous archiving";
    /** The receiver's application name, which is also its slot's name. */
    private static final String RECEIVER = WalReceivers.SLOT;
    static final String WAITED_FOR = "the WAL receiver";
    private static final int PROBE_SECONDS = 3;
    private static final Duration FAILSAFE_AFTER = Duration.ofSeconds(3);
    private static final int CHECK_THREADS = 4;
    private static final Duration SHUTDOWN_WAIT = Duration.ofSeconds(5);
    /** How long after a failed check of a primary whose plan does not ask for it that check is tried again. */
    private static final Duration LET_GO_RETRY = Duration.ofSeconds(30);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final DatabaseLookup databases;
    private final DatabaseLeases leases;
    private final SynchronousArchive synchronous;
    private final ThisNode node;
    private final InstanceRuntime runtime;
    private final FenceGuards guards;
    private final Duration grace;
    private final ScheduledExecutorService loop;
    private final ScheduledExecutorService failsafe;
    /** The checks of one round run side by side: one slow primary does not hold up the others' past the grace. */
    private final ExecutorService checks;
    /** The primaries watched, by instance id: a round checks each on a thread of {@link #checks}; the failsafe keeps its own state in them. */
    private final Map<UUID, Watch> watches = new ConcurrentHashMap<>();
    /**
     * The primaries of plans that do not ask for it, by when their check is due: never again once one
     * found the receiver not waited for, {@link #LET_GO_RETRY} after one failed. The loop's thread alone uses it.
     */
    private final Map<UUID, Instant> letGoDue = new HashMap<>();
    private volatile Instant roundEndedAt = Instant.now();
    private volatile boolean stopping;

    private static final class Watch {
        final Instance primary;
        volatile boolean synchronous;
        final SyncCommit.Seen seen = new SyncCommit.Seen();
        @Nullable String degraded;
        volatile @Nullable Instant heldOffUntil;
        // The failsafe's own: it never waits for the round's.
        final SyncCommit.Seen failsafeSeen = new SyncCommit.Seen();

        Watch(Instance primary) {
            this.primary = primary;
        }
    }

    ReceiverSyncCommit(InstanceRepository instances, InstanceConnections connections, DatabaseLookup databases, DatabaseLeases leases,
                       SynchronousArchive synchronous, ThisNode node, InstanceRuntime runtime, FenceGuards guards,
                       @Value("${keel.ha.sync-grace:5s}") String grace) {
        this.instances = instances;
        this.connections = connections;
        this.databases = databases;
        this.leases = leases;
        this.synchronous = synchronous;
        this.node = node;
        this.runtime = runtime;
        this.guards = guards;
        this.grace = Durations.parse("KEEL_HA_SYNC_GRACE", grace);
        this.loop = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-receiver-sync"));
        this.failsafe = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-receiver-sync-failsafe"));
        this.checks = Executors.newFixedThreadPool(CHECK_THREADS, DaemonThreads.numbered("keel-receiver-sync-check"));
    }

    public void start() {
        loop.scheduleWithFixedDelay(() -> Loops.round("Synchronous archiving's round", this::round), 1, 1, TimeUnit.SECONDS);
        failsafe.scheduleWithFixedDelay(() -> Loops.round("Synchronous archiving's failsafe", this::failsafe), 1, 1, TimeUnit.SECONDS);
    }

    private void round() {
        List<Instance> primaries;
        Set<UUID> wanted;
        try {
            primaries = instances.runningPrimaries().stream().filter(p -> node.name().equals(p.node())).toList();
            wanted = databases.onPlans(synchronous.plans());
        } catch (RuntimeException catalogOut) {
            LOG.debug("Synchronous archiving cannot read the catalog: {}", catalogOut.toString());
            return; // the failsafe lets commits go meanwhile
        }
        Set<UUID> watched = new HashSet<>();
        List<Future<?>> checked = new ArrayList<>();
        for (Instance primary : primaries) {
            if (wanted.contains(primary.databaseId())) {
                watched.add(primary.id());
                letGoDue.remove(primary.id()); // checked again if its plan stops asking for it
                Watch watch = watches.computeIfAbsent(primary.id(), id -> new Watch(primary));
                checked.add(checks.submit(() -> check(watch)));
            }
        }
        try {
            for (Future<?> check : checked) {
                check.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        for (Watch watch : List.copyOf(watches.values())) {
            if (!watched.contains(watch.primary.id())) {
                watches.remove(watch.primary.id()); // its primary, if still one, is checked below at once
            }
        }
        guards.letGo(grace, watches.values().stream().flatMap(watch -> forGuard(watch.primary).stream()).toList());
        Instant now = Instant.now();
        Set<UUID> running = new HashSet<>();
        for (Instance primary : primaries) {
            running.add(primary.id());
            Instant due = letGoDue.getOrDefault(primary.id(), Instant.MIN);
            if (!wanted.contains(primary.databaseId()) && !now.isBefore(due)) {
                letGoDue.put(primary.id(), letGo(primary, "its plan does not ask for it", true) ? Instant.MAX : now.plus(LET_GO_RETRY));
            }
        }
        letGoDue.keySet().retainAll(running);
        roundEndedAt = Instant.now();
    }

    /**
     * {@code primary} as the fence guard lets its commits go while no Keel runs on this node (the
     * receiver, on this node when it is alone, is then gone too): with Keel's password as last read,
     * while it runs.
     */
    private Optional<FenceWatch.Server> forGuard(Instance primary) {
        return connections.knownPassword(primary).filter(password -> runtime.isRunning(primary)).map(password -> {
            ServerFence.Target files = runtime.fenceTarget(primary);
            return new FenceWatch.Server(primary.id(), files.dataDir(), files.spool(), primary.host(), primary.port(), primary.major(),
                    password, RECEIVER);
        });
    }

    /**
     * While the rounds do not end (the catalog does not answer, or hangs), commits that wait for a
     * receiver that stopped are let go all the same, from the primaries the rounds last watched.
     */
    private void failsafe() {
        if (Duration.between(roundEndedAt, Instant.now()).compareTo(FAILSAFE_AFTER) > 0) {
            watches.values().stream().filter(w -> w.synchronous).forEach(this::failsafeCheck);
        } else {
            // Rounds end again: what the failsafe saw in this outage is no guide to the next (a not-streaming start kept
            // from it would let the next outage's commits go up to a grace early).
            watches.values().forEach(w -> w.failsafeSeen.forget());
        }
    }

    /**
     * The failsafe's check of one primary: with the password last read, and timing waits on its own
     * (the round's state may be held by a round stuck in the catalog); it only ever lets commits go.
     */
    private void failsafeCheck(Watch watch) {
        Instance primary = watch.primary;
        try (ServerSession session = connections.probeWithoutCatalog(primary, PROBE_SECONDS)) {
            ServerSession.PrimaryCheck check = SyncCommit.receiverCheck(session, RECEIVER);
            Instant now = Instant.now();
            Duration longestWait = watch.failsafeSeen.observe(check, now);
            SyncCommit.Verdict verdict = SyncCommit.decide(WAITED_FOR, true, check, longestWait, watch.failsafeSeen.notStreamingSince(),
                    null, null, now, grace);
            if (check.inRecovery() || verdict.action() != SyncCommit.Action.DISABLE || !check.synchronousStandby()) {
                watch.synchronous = check.synchronousStandby();
                return;
            }
            disable(watch, session, verdict, longestWait, now);
        } catch (SQLException | RuntimeException e) {
            LOG.debug("The failsafe could not check synchronous archiving on instance {}: {}", primary.id(), e.toString());
        }
    }

    /** Commits stop waiting for the receiver (degraded), and do not wait again for a while if one waited past the grace. */
    private void disable(Watch watch, ServerSession session, SyncCommit.Verdict verdict, Duration longestWait, Instant now)
            throws SQLException {
        session.synchronousStandby(null);
        watch.synchronous = false;
        if (longestWait.compareTo(grace) > 0) {
            watch.heldOffUntil = now.plus(grace.multipliedBy(SyncCommit.HOLD_OFF_GRACES));
        }
        LOG.warn("Database {}: degraded: commits are acknowledged before their WAL is in the object store: {}",
                watch.primary.databaseId(), verdict.degraded());
    }

    /**
     * Turns waiting for the receiver on or off on {@code watch}'s primary, as {@link SyncCommit}
     * decides. One round's check of a primary at a time (a round waits for all of its checks).
     */
    private void check(Watch watch) {
        Instance primary = watch.primary;
        try (ServerSession session = connections.probe(primary, PROBE_SECONDS)) {
            // Whether commits wait for the receiver, not for anyone: another name on a primary without a standby is replaced.
            ServerSession.PrimaryCheck check = SyncCommit.receiverCheck(session, RECEIVER);
            if (check.inRecovery()) {
                return;
            }
            Instant now = Instant.now();
            watch.synchronous = check.synchronousStandby();
            Duration longestWait = watch.seen.observe(check, now);
            SyncCommit.Verdict verdict = SyncCommit.decide(WAITED_FOR, true, check, longestWait, watch.seen.notStreamingSince(),
                    watch.degraded, watch.heldOffUntil, now, grace);
            watch.degraded = verdict.degraded();
            switch (verdict.action()) {
                case ENABLE -> enable(watch, session);
                case DISABLE -> {
                    if (check.synchronousStandby()) {
                        disable(watch, session, verdict, longestWait, now);
                    }
                }
                case NONE -> { }
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Could not check synchronous archiving on instance {}: {}", primary.id(), e.toString());
        }
    }

    /** Under the database's lease, while its plan still asks for it and it has no standby (whose commits wait for that). */
    private void enable(Watch watch, ServerSession session) throws SQLException {
        UUID database = watch.primary.databaseId();
        try (DatabaseLeases.Lease lease = leases.tryAcquire(database, ACTOR).orElse(null)) {
            if (lease != null && databases.find(database).map(Database::plan).filter(synchronous::wants).isPresent()
                    && instances.standby(database).isEmpty() && !stopping) {
                session.synchronousStandby(RECEIVER);
                watch.synchronous = true;
                watch.seen.forgetWaiters();
                LOG.info("Database {}: commits wait for the WAL receiver: each is acknowledged once its WAL is in the object store",
                        database);
            }
        }
    }

    /**
     * Takes the receiver's name out of {@code primary}'s synchronous standbys, if it is there; says
     * whether it is not there now. {@code catalog}: its password is read from the catalog, else the one last read.
     */
    private boolean letGo(Instance primary, String why, boolean catalog) {
        try (ServerSession session = catalog ? connections.probe(primary, PROBE_SECONDS)
                : connections.probeWithoutCatalog(primary, PROBE_SECONDS)) {
            if (session.waitsFor(RECEIVER)) {
                session.synchronousStandby(null);
                LOG.info("Database {}: commits no longer wait for the WAL receiver: {}", primary.databaseId(), why);
            }
            return true;
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Could not check synchronous archiving on instance {}: {}", primary.id(), e.toString());
            return false;
        }
    }

    /**
     * Before this node's beans stop (its receivers among them): the rounds end, and every primary this
     * node watched has its commits let go, so that none waits while this Keel is down; the next start
     * makes them wait again once the receiver streams.
     */
    @EventListener
    void onShutdown(ShutdownEvent event) {
        stopping = true; // a round's check under way no longer makes commits wait
        guards.stopWatchingCommits(); // should a let-go below fail, the guard lets them go while Keel winds down
        loop.shutdownNow();
        failsafe.shutdownNow();
        checks.shutdownNow();
        // Side by side, and within SHUTDOWN_WAIT in all: Keel's stop has a deadline of its own.
        ExecutorService lettingGo = Executors.newCachedThreadPool(DaemonThreads.numbered("keel-receiver-sync-stop"));
        try {
            CompletableFuture.allOf(watches.values().stream().map(watch -> CompletableFuture.runAsync(() -> {
                if (!letGo(watch.primary, "Keel stops on this node", false)) {
                    LOG.warn("Could not let the commits of instance {} go before Keel stops", watch.primary.id());
                }
            }, lettingGo)).toArray(CompletableFuture[]::new)).get(SHUTDOWN_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            LOG.warn("Letting commits go before Keel stops did not finish: {}", e.toString());
        } finally {
            lettingGo.shutdownNow();
        }
    }

    @PreDestroy
    void close() {
        loop.shutdownNow();
        failsafe.shutdownNow();
        checks.shutdownNow();
    }
}
