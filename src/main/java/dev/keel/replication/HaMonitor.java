package dev.keel.replication;

import dev.keel.DaemonThreads;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Decision;
import dev.keel.operations.OperationHandler;
import dev.keel.postgres.Durations;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.TimelineId;
import dev.keel.archive.Backup;
import dev.keel.archive.TimelineBackups;
import dev.keel.StartupException;
import dev.keel.problems.CatalogOutage;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.instances.Reconfiguration;
import dev.keel.instances.ReplicationSlots;
import dev.keel.instances.ServerFence;
import dev.keel.jobs.Loops;
import dev.keel.nodes.NodeHeartbeat;
import dev.keel.nodes.Nodes;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.postgres.WalSegmentName;
import dev.keel.problems.Failure;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.annotation.Order;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The failover monitor: every {@code keel.ha.check-interval} it logs in to the primary of every
 * database on an HA plan. A primary that answers is healthy (and the standby's lag is noted). A
 * postmaster that is gone from an intact data directory is started again where it is. A primary
 * that misses {@code keel.ha.misses} checks in a row (it hangs, or its data directory is gone)
 * is failed over to the standby, unless the standby is further behind than the plan's bound
 * ({@code keel.ha.max-lag-segments} WAL segments, Heroku's 10), which is refused and said so.
 * It also asks for a standby wherever one is missing. Every decision is an {@link HaDecision}.
 * Across hosts, the node of a database's standby also checks its primary, and fails it over when
 * the primary's node is lost or cut off ({@link #watchFromStandby}); a node cut off from both the
 * catalog and a standby kills that standby's primary first ({@link #selfFence}, T_fence).
 */
@Singleton
@Order(20)
public final class HaMonitor implements DatabaseInfo.Lines {
    private static final Logger LOG = LoggerFactory.getLogger(HaMonitor.class);
    private static final int KEPT_DECISIONS = 20;
    private static final int RESTART_ATTEMPTS = 10;
    private static final int RESTARTS_IN_A_ROW = 3;
    /** How the monitor is named as the holder of a database's lease. */
    static final String ACTOR = "the HA monitor";
    /** The decisions that change the database's instances, taken only under its lease. */
    private static final Set<HaDecision.Kind> ACTS = EnumSet.of(HaDecision.Kind.RESTART_IN_PLACE, HaDecision.Kind.FAIL_OVER,
            HaDecision.Kind.FINISH_PROMOTION, HaDecision.Kind.REPLACE_STANDBY);

    private final DatabaseLookup databases;
    private final Plans plans;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final Failover failover;
    private final StandbyBuild standbyBuild;
    private final TimelineBackups timelineBackups;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DatabaseLeases leases;
    private final ThisNode node;
    private final Placement placement;
    private final NodeHeartbeat heartbeat;
    private final DSLContext dsl;
    private final HaDecisionRepository decisions;
    private final Duration interval;
    private final long maxLagBytes;
    private final HaDecision.Limits limits;
    private final int probeSeconds;
    private final Duration standbyRetry;
    private final Duration syncGrace;
    /** T_fence: a primary whose node reaches neither the catalog nor its standby this long stops itself. */
    private final Duration fenceAfter;
    private final Duration fencePeriod;
    private final Set<String> asynchronousPlans;
    private final Map<UUID, Watch> watches = new ConcurrentHashMap<>();
    private final FenceGuards guards;
    /** The databases of the first round that read the catalog whose first check has not ended yet. */
    private final Set<UUID> firstChecks = ConcurrentHashMap.newKeySet();
    private final StandbyVouches vouches;
    private final StandbyFenceAcks fenceAcks;
    private final Reconfiguration reconfiguration;
    private final Nodes registry;
    /** The API URL of each node that hosts a standby of a primary here, as last read, and when: asked to vouch without the catalog. */
    private final Map<String, String> nodeUrls = new ConcurrentHashMap<>();
    private final Map<String, Instant> nodeUrlsReadAt = new ConcurrentHashMap<>();
    private static final Duration NODE_URL_KEPT = Duration.ofMinutes(1);
    /** When ({@link System#nanoTime}) the self-fence last warmed its connections to each of those nodes, and what failed then. */
    private final Map<String, Long> warmedAt = new ConcurrentHashMap<>();
    private final Map<String, String> warmProblems = new ConcurrentHashMap<>();
    private static final Duration WARM_EVERY = Duration.ofSeconds(15);
    /** Whether a round has read the catalog and listed the databases to check ({@link #firstChecks} complete). */
    private volatile boolean firstRoundListed;

    /** What this node last read of the primaries it does not watch, and when. */
    private final Map<UUID, Observed> observations = new ConcurrentHashMap<>();
    private static final Duration OBSERVATION_KEPT = Duration.ofSeconds(5);
    /** How long a look at whether a server answers may take where time counts: the self-fence's, and the standby's node's. */
    private static final Duration REACH_TIMEOUT = Duration.ofMillis(250);
    /** The longest and the shortest the self-fence waits for the standby's node to vouch ({@link #askTimeout}). */
    private static final Duration ASK_TIMEOUT_MAX = Duration.ofSeconds(1);
    private static final Duration ASK_TIMEOUT_MIN = Duration.ofMillis(100);
    /** How long the standby's node gives a primary another node hosts to let it in and answer, each round. */
    private static final Duration REMOTE_CHECK_TIMEOUT = Duration.ofMillis(750);
    /** Databases being checked now; true when another check fell due meanwhile. */
    private final Map<UUID, Boolean> checking = new ConcurrentHashMap<>();
    /**
     * Databases the failsafe is looking at now. Apart from {@link #checking}: a check that waits on
     * a catalog connection the outage left hanging (up to the pool's 30 s socket timeout) must not
     * keep the failsafe from letting commits go (CatalogPartitionIT saw a commit wait 26 s, not 6).
     */
    private final Set<UUID> failsafeRunning = ConcurrentHashMap.newKeySet();
    /** Databases whose servers a check is changing now (a restart, failover, promotion): the failsafe leaves them alone. */
    private final Set<UUID> acting = ConcurrentHashMap.newKeySet();
    private ScheduledExecutorService executor;
    /**
     * Told as each round ("round") and each database's check (its name) begins, and inside the watch's lock as a takeover passes
     * its check ("take over") and as a vouch begins ("vouch"): the tests' way to fail them, or hold them, from inside.
     */
    volatile Consumer<String> seam = what -> { };
    private ExecutorService checks;
    private ScheduledExecutorService failsafe;
    private ScheduledExecutorService fence;
    /** Since when the monitor's round could not read the catalog, or null while it can. */
    private volatile @Nullable Instant catalogLostSince;

    private final Timer checkTimer;

    HaMonitor(DatabaseLookup databases, Plans plans, InstanceRepository instances, InstanceRuntime runtime, InstanceConnections connections,
              Failover failover, StandbyBuild standbyBuild, TimelineBackups timelineBackups, OperationRepository operations, OperationRunner runner, DatabaseLeases leases,
              ThisNode node, Placement placement, NodeHeartbeat heartbeat, DSLContext dsl, HaDecisionRepository decisions, @Value("${keel.ha.check-interval}") String interval, @Value("${keel.ha.misses}") int misses,
              @Value("${keel.ha.max-lag-segments}") int maxLagSegments, @Value("${keel.ha.probe-timeout-seconds}") int probeSeconds,
              @Value("${keel.ha.standby-retry}") String standbyRetry, @Value("${keel.ha.sync-grace:5s}") String syncGrace,
              @Value("${keel.ha.asynchronous-plans:}") String asynchronousPlans, @Value("${keel.ha.fence-after:2s}") String fenceAfter,
              FenceGuards guards, StandbyVouches vouches, StandbyFenceAcks fenceAcks, Nodes registry, Reconfiguration reconfiguration,
              MeterRegistry meters) {
        this.checkTimer = Loops.timer(meters, "ha-check");
        this.databases = databases;
        this.plans = plans;
        this.instances = instances;
        this.runtime = runtime;
        this.connections = connections;
        this.failover = failover;
        this.standbyBuild = standbyBuild;
        this.timelineBackups = timelineBackups;
        this.operations = operations;
        this.runner = runner;
        this.leases = leases;
        this.node = node;
        this.placement = placement;
        this.heartbeat = heartbeat;
        this.dsl = dsl;
        this.decisions = decisions;
        this.guards = guards;
        this.vouches = vouches;
        this.fenceAcks = fenceAcks;
        this.registry = registry;
        this.reconfiguration = reconfiguration;
        this.interval = Durations.parse("KEEL_HA_CHECK_INTERVAL", interval);
        this.maxLagBytes = maxLagSegments * WalSegmentName.SEGMENT_BYTES;
        this.limits = new HaDecision.Limits(misses, RESTARTS_IN_A_ROW, maxLagBytes, node.lostAfter());
        this.probeSeconds = probeSeconds;
        this.standbyRetry = Durations.parse("KEEL_HA_STANDBY_RETRY", standbyRetry);
        this.syncGrace = Durations.parse("KEEL_HA_SYNC_GRACE", syncGrace);
        this.fenceAfter = fenceAfter(fenceAfter);
        this.fencePeriod = this.fenceAfter.dividedBy(8);
        this.asynchronousPlans = Arrays.stream(asynchronousPlans.split(",")).map(String::strip).filter(p -> !p.isEmpty())
                .collect(Collectors.toUnmodifiableSet());
    }

    /** T_fence from its setting, at least 1.5 s. */
    static Duration fenceAfter(String setting) {
        Duration fenceAfter = Durations.parse("KEEL_HA_FENCE_AFTER", setting);
        if (fenceAfter.compareTo(Duration.ofMillis(1500)) < 0) {
            throw new StartupException("KEEL_HA_FENCE_AFTER (" + fenceAfter.toMillis() + " ms) must be at least 1.5 s: a standby"
                    + " replies to its primary every second, and a primary whose standby's reply is late by less than that would be"
                    + " killed whenever the catalog is out of reach.");
        }
        return fenceAfter;
    }

    /**
     * The record of a restart in place, which the monitor itself carries out (never the operation
     * runner); one Keel stopped during is over, and the monitor looks at the primary again.
     */
    @Singleton
    static final class Restarts implements OperationHandler {
        @Override
        public OperationKind kind() {
            return OperationKind.RESTART;
        }

        @Override
        public void run(Operation operation) {
            throw new IllegalStateException("restarts in place are carried out by the HA monitor, not queued");
        }

        @Override
        public Decision recover(Operation operation) {
            return Decision.giveUp(operation, "Keel stopped while restarting the primary in place; the HA monitor"
                    + " checks it again");
        }
    }

    /** What the monitor knows about one database between checks. */
    static final class Watch {
        int missed;
        int restarts;
        @Nullable Lsn lastLsn;
        @Nullable TimelineId timeline;
        /** Whether the primary's commits wait for the standby, as last seen. */
        boolean synchronous;
        /** The commits seen waiting for the standby, and since when it has not streamed. */
        final SyncCommit.Seen seen = new SyncCommit.Seen();
        /** Why commits are not synchronous although the plan asks for it (null when they are). */
        @Nullable String degraded;
        /** After a commit waited too long, synchronous commit stays off until then. */
        @Nullable Instant heldOffUntil;
        @Nullable Long standbyLag;
        @Nullable String standbyState;
        @Nullable HaDecision last;
        /**
         * The database, its primary and its standby as last checked: what the failsafe looks at without the catalog (volatile:
         * the self-fence and the warming read them on threads of their own).
         */
        volatile @Nullable Database database;
        volatile @Nullable Instance primary;
        volatile @Nullable Instance standby;
        Instant buildAfter = Instant.EPOCH;
        Instant lastBuildAttempt = Instant.EPOCH;
        /**
         * On the standby's node: since when ({@link System#nanoTime}) the primary's port, on another node, has not accepted a
         * connection from here (null while it does).
         */
        @Nullable Long downSince;
        /**
         * On the primary's node: whether this primary has had a standby on another node, which that node could promote
         * (volatile: the self-fence covers it from the round after the check that noted it, before that node is told so).
         */
        volatile boolean standbyElsewhere;
        /** On the primary's node: the standby whose node was told that the self-fence covers this primary ({@link #acknowledgeFence}). */
        volatile @Nullable UUID fenceAcknowledged;
        /** On the primary's node: whether telling it failed, said once until it succeeds. */
        volatile boolean fenceAckFailing;
        /** On the primary's node: when ({@link System#nanoTime}, this node's clock) its standby last replied, as last read. */
        volatile long witnessedAt = Long.MIN_VALUE;
        /** On the primary's node: how far its standby's host has been seen running ahead of this host's clock. */
        final StandbyClock standbyClock = new StandbyClock();
        /** On the primary's node: why the standby's node did not vouch for the primary at the self-fence's last ask; null if it did. */
        volatile @Nullable String vouchRefusal = "";
        /**
         * On the standby's node: when ({@link System#nanoTime}) it last vouched for the primary to the primary's node
         * ({@link #vouch}); its count of the primary's silence starts no earlier. Guarded by the watch, with {@link #takingOver}.
         */
        volatile long vouchedAt = Long.MIN_VALUE;
        /** On the standby's node: whether it decided to fail the primary over (it then vouches for it no more). */
        boolean takingOver;
        /** The self-fence's reading of the witness, its question to the standby's node, and its kill, under way. */
        final AtomicBoolean witnessing = new AtomicBoolean();
        final AtomicBoolean asking = new AtomicBoolean();
        final AtomicBoolean fencing = new AtomicBoolean();
        /** When the monitor last looked for another node to move a standby beside its primary to. */
        Instant apartCheckedAt = Instant.EPOCH;
        /** The node the last decision moves the standby to (a {@code REPLACE_STANDBY} that moves it), else null. */
        @Nullable
        String moveTo;
        /** Finished promotions that failed in a row, and when the next may begin ({@link #promotionBackoff}). */
        int promotionsFailed;
        Instant promoteAgainAt = Instant.EPOCH;

        void promotionSettled() {
            promotionsFailed = 0;
            promoteAgainAt = Instant.EPOCH;
        }
        /** On the standby's node: since when ({@link System#nanoTime}) each fenced old primary's port has not accepted a connection. */
        final Map<UUID, Long> fencedDownSince = new ConcurrentHashMap<>();
        /** Why the failsafe last kept commits waiting, logged once until it changes or the catalog is back (null: none). */
        volatile @Nullable String failsafeRefusal;

        /** Forgets the servers, once this node hosts neither: it then vouches for none ({@link #vouch}) and fences none. */
        synchronized void leaveRole() {
            forgetServers();
            primary = null;
            standby = null;
        }

        /** Forgets what was seen of the servers (kept: when a standby may be built). */
        void forgetServers() {
            missed = 0;
            restarts = 0;
            lastLsn = null;
            timeline = null;
            seen.forget();
            standbyLag = null;
            standbyState = null;
            downSince = null;
            standbyElsewhere = false;
            fenceAcknowledged = null;
            fenceAckFailing = false;
            standbyClock.forget();
            vouchRefusal = "";
            synchronized (this) {
                vouchedAt = Long.MIN_VALUE;
                takingOver = false;
            }
        }
    }

    /** A decision other than "healthy", when it was taken, and the operation it started, if any. */
    @Serdeable
    public record Recorded(String kind, String sentence, Instant at, @Nullable UUID operationId) {
    }

    /** {@code GET /v1/databases/{id}/ha}: the HA status, the standby, and the monitor's recent decisions, newest first. */
    @Serdeable
    public record Status(String status, @Nullable UUID standbyInstance, @Nullable Integer standbyPort, @Nullable Long standbyLagBytes,
                         @Nullable String standbyState, @Nullable Boolean synchronous, List<Recorded> decisions) {
    }

    public synchronized void start() {
        if (executor != null) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-ha-monitor"));
        // Each database is checked on a thread of its own: a failover or a hung login of one never delays another's check.
        checks = Executors.newCachedThreadPool(DaemonThreads.numbered("keel-ha-check"));
        // At a fixed rate: a check that waits out its login timeout is not followed by a whole interval more.
        executor.scheduleAtFixedRate(this::tick, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        // On a thread of its own: the round waits for the catalog pool (up to its connection timeout) while the catalog is out.
        failsafe = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-ha-failsafe"));
        failsafe.scheduleAtFixedRate(this::failsafe, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
        // Its own thread too: the self-fence must not wait behind anything that waits for the catalog.
        fence = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-ha-fence"));
        fence.scheduleAtFixedRate(() -> Loops.round("The HA monitor's self-fence", this::selfFence), fencePeriod.toMillis(),
                fencePeriod.toMillis(), TimeUnit.MILLISECONDS);
    }

    @PreDestroy
    synchronized void stop() throws InterruptedException {
        if (executor != null) {
            executor.shutdownNow();
            checks.shutdownNow();
            failsafe.shutdownNow();
            fence.shutdownNow();
            executor.awaitTermination(30, TimeUnit.SECONDS);
            failsafe.awaitTermination(30, TimeUnit.SECONDS);
            fence.awaitTermination(30, TimeUnit.SECONDS);
            checks.awaitTermination(30, TimeUnit.SECONDS);
        }
    }

    private void tick() {
        Loops.round("The HA monitor's round", () -> {
            seam.accept("round");
            List<Database> archiving;
            try {
                archiving = databases.archiving();
            } catch (RuntimeException e) {
                if (!CatalogOutage.is(e)) {
                    throw e;
                }
                if (catalogLostSince == null) {
                    catalogLostSince = Instant.now();
                    LOG.warn("The HA monitor cannot reach the catalog ({}): it fails nothing over and restarts nothing until it can;"
                            + " meanwhile commits that wait for a standby longer than {} are let go", e.getMessage(), syncGrace);
                }
                return;
            }
            if (catalogLostSince != null) {
                LOG.info("The HA monitor reaches the catalog again, after {}", Duration.between(catalogLostSince, Instant.now()));
                catalogLostSince = null;
                watches.values().forEach(w -> w.failsafeRefusal = null);
            }
            stopFencedHere();
            // Readings of other nodes' primaries are a cache: those of databases gone are dropped, so it never outgrows them.
            Set<UUID> present = archiving.stream().map(Database::id).collect(Collectors.toSet());
            observations.keySet().retainAll(present);
            for (Database database : archiving) {
                // A database that left its HA plan is still looked at while its commits were last seen waiting for a
                // standby: they are let go (a standby being removed must not hold them for ever).
                Watch seen = watches.get(database.id());
                if (!plans.find(database.plan()).map(Plan::ha).orElse(false) && (seen == null || !seen.synchronous)) {
                    continue;
                }
                // A database whose last check still runs (a login waiting out its timeout, a failover) is checked again
                // as soon as it ends, not a whole interval later.
                if (checking.putIfAbsent(database.id(), false) != null) {
                    checking.replace(database.id(), true);
                    continue;
                }
                if (!firstRoundListed) {
                    firstChecks.add(database.id());
                }
                checks.execute(() -> {
                    try {
                        do {
                            Loops.round("The HA monitor's check of " + database.name(), checkTimer, () -> {
                                seam.accept(database.name());
                                check(database);
                            });
                        } while (checking.replace(database.id(), true, false));
                    } finally {
                        checking.remove(database.id());
                        firstChecks.remove(database.id());
                    }
                });
            }
            firstRoundListed = true;
            // What this node saw of a database deleted is dropped too (last: a catalog error here delays no check). One only out
            // of service a while (a plan change, an upgrade) keeps its watch: its primary is still fenced across a partition.
            watches.keySet().removeIf(id -> !present.contains(id) && databases.find(id).isEmpty());
        });
    }

    /**
     * Checks one database and acts on the decision. It looks only while no other actor holds the
     * database's lease (an operation restarting, switching over or deleting its servers on purpose
     * is not a failure), and acts only once it holds the lease itself. Each database is watched by
     * one node: the one that hosts its primary.
     */
    void check(Database database) {
        Watch watch = watches.computeIfAbsent(database.id(), id -> new Watch());
        if (!plans.find(database.plan()).map(Plan::ha).orElse(false)) {
            letCommitsGo(database, watch, "its plan has none");
            return;
        }
        if (busy(database)) {
            // Another actor's statements on the primary (a credential change, a plan change) may be the commits waiting for
            // a dead standby: they are let go, never held for the lease's sake.
            if (watch.synchronous && watch.primary != null) {
                letWaitersGo(database, watch, watch.primary, true);
            }
            if (watch.primary == null) {
                rememberServers(database, watch);
            }
            return;
        }
        Optional<Instance> found = instances.primary(database.id());
        Optional<Instance> standby = instances.standby(database.id()).filter(s -> s.state() == InstanceState.RUNNING);
        if (!node.name().equals(watcher(found, standby))) {
            if (found.isPresent() && standby.isPresent() && node.name().equals(standby.get().node())) {
                watchFromStandby(database, watch, found.get(), standby.get());
            } else if (watch.primary != null) {
                watch.leaveRole(); // neither its primary nor its standby here (any more): nothing to vouch for, nor to fence
            }
            return;
        }
        if (found.isEmpty()) {
            if (standby.isPresent() && instances.hasFenced(database.id()) && fencedForSure(database, watch, standby.get())) {
                HaDecision decision = new HaDecision(HaDecision.Kind.FINISH_PROMOTION, "promoting the standby: a failover fenced its old"
                        + " primary but stopped before the standby took over");
                if (backingOff(watch, standby.get())) {
                    return;
                }
                try (DatabaseLeases.Lease lease = leases.tryAcquire(database.id(), ACTOR).orElse(null)) {
                    if (lease != null && contactFresh()) {
                        LOG.warn("Database {}: {}", database.name(), decision.sentence());
                        acting.add(database.id());
                        try {
                            finishPromotion(database, watch, standby.get(), decision);
                        } finally {
                            acting.remove(database.id());
                        }
                    }
                }
            }
            return;
        }
        Instance primary = found.get();
        if (watch.primary != null && !watch.primary.id().equals(primary.id())) {
            watch.forgetServers(); // another primary since this node last watched it: what it saw of the old one is no guide
        }
        noteServers(database, watch, primary, standby);
        HaDecision decision = decide(database, watch, primary, standby);
        if (ACTS.contains(decision.kind())) {
            if (!contactFresh()) {
                return; // see contactFresh: decided again once this node's catalog contact is
            }
            try (DatabaseLeases.Lease lease = leases.tryAcquire(database.id(), ACTOR).orElse(null)) {
                // Another actor took the database meanwhile (its work restarts servers on purpose), or it is no longer available.
                // The instances decided on are still the database's (a switchover may have ended meanwhile).
                if (lease != null && databases.find(database.id()).filter(d -> d.state() == DatabaseState.AVAILABLE).isPresent()
                        && instances.primary(database.id()).map(Instance::id).equals(Optional.of(primary.id()))
                        && instances.standby(database.id()).filter(s -> s.state() == InstanceState.RUNNING).map(Instance::id)
                        .equals(standby.map(Instance::id))) {
                    act(database, watch, primary, standby, decision);
                }
            }
            return;
        }
        act(database, watch, primary, standby, decision);
    }

    /**
     * Whether the database's fenced servers are surely stopped, so that its standby may be promoted:
     * each is on this node (whose start kills a fenced server, and whose failover killed it), or on
     * an active node (which did the same), and none answers. A fenced server on a silent node may
     * still run (its node may have stopped between fencing it in the catalog and killing it), so
     * the promotion waits for that node, unless both its port and the node have been silent for
     * longer than the node takes to fence itself, and, for the server fenced last (the one the
     * standby followed; those fenced before were stopped, or found stopped, by the failovers
     * since), the node said that its self-fence covers it with this standby as its witness
     * ({@link StandbyFenceAcks#acknowledged}), as a failover from elsewhere asks: with no primary,
     * no other standby was built since it was fenced, and a word given for an earlier standby is
     * not one the node's self-fence still keeps.
     */
    private boolean fencedForSure(Database database, Watch watch, Instance standby) {
        Set<String> silent = placement.silent();
        Optional<UUID> fencedLast = instances.fencedLast(database.id());
        for (Instance fenced : instances.forDatabase(database.id())) {
            if (fenced.state() != InstanceState.FENCED) {
                continue;
            }
            String why = null;
            if (fenced.node() != null && !fenced.node().equals(node.name()) && silent.contains(fenced.node())) {
                if (!lostForSure(watch, fenced)) {
                    why = "its fenced old primary is on node " + fenced.node() + ", which is silent and may not have stopped it";
                } else if (fencedLast.equals(Optional.of(fenced.id())) && !fenceAcks.acknowledged(standby.id(), fenced.id(), fenced.node())) {
                    why = "its fenced old primary is on node " + fenced.node() + ", which is silent and had not said that its"
                            + " self-fence covers it, so it may not have stopped it; Keel promotes the standby once that node is back,"
                            + " or an operator forgot it (POST /v1/nodes/<name>/forget, once its servers are stopped or its host cut off)";
                }
            } else {
                try (ServerSession ignored = connections.probe(fenced, probeSeconds)) {
                    why = "its fenced old primary (instance " + fenced.id() + ") still answers";
                } catch (SQLException | RuntimeException e) {
                    // stopped, as fenced
                }
            }
            if (why != null) {
                HaDecision refused = new HaDecision(HaDecision.Kind.REFUSE, "not promoting the standby: " + why);
                boolean news = watch.last == null || !watch.last.sentence().equals(refused.sentence());
                watch.last = refused;
                if (news) {
                    LOG.error("Database {}: {}", database.name(), refused.sentence());
                }
                record(database, refused, news, null);
                return false;
            }
        }
        return true;
    }

    /**
     * Whether server {@code fenced}, on a silent node, is surely stopped by the rule a failover from
     * elsewhere counts on: its node (of this version) has been silent, and its port has not accepted
     * a connection from here (a server whose node's Keel alone stopped still does), each for longer
     * than a node cut off takes to fence its primaries ({@link #fencedBy}). A promotion that failed
     * after such a failover fenced the old primary in the catalog is then finished without waiting
     * for that node, which may never return, once the node's word that its self-fence covers that
     * primary is there too ({@link #fencedForSure}).
     */
    private boolean lostForSure(Watch watch, Instance fenced) {
        if (connections.acceptsConnections(fenced, REACH_TIMEOUT)) {
            watch.fencedDownSince.remove(fenced.id());
            return false;
        }
        Duration down = Duration.ofNanos(System.nanoTime() - watch.fencedDownSince.computeIfAbsent(fenced.id(), id -> System.nanoTime()));
        return lostForSure(down, placement.otherVersion(fenced.node()).isPresent(), placement.silentFor(fenced.node()), fencedBy());
    }

    /**
     * The rule of {@link #lostForSure(Watch, Instance)}: the port {@code down} and the node silent,
     * each for longer than {@code fencedBy}, and the node of this version (whose rule to fence
     * itself is known).
     */
    static boolean lostForSure(Duration down, boolean otherVersion, Optional<Duration> silentFor, Duration fencedBy) {
        return down.compareTo(fencedBy) > 0 && !otherVersion && silentFor.filter(s -> s.compareTo(fencedBy) > 0).isPresent();
    }

    /**
     * Detection from elsewhere: the node that hosts a database's standby checks its primary, which
     * another node hosts, every round as well, and notes how far it has written while it answers.
     * Should the primary's node fall silent in the catalog and the primary stop answering here,
     * both for longer than a node cut off from the catalog and from its standby takes to fence
     * itself ({@link #fencedBy}), this node fails it over to the standby within the lag bound, under
     * the database's lease. A primary that still answers is never failed over from here, whatever
     * its node's Keel does: its node, once back, decides (a hang, a crash) as before.
     */
    private void watchFromStandby(Database database, Watch watch, Instance primary, Instance standby) {
        if (watch.primary != null && !watch.primary.id().equals(primary.id())) {
            watch.forgetServers();
        }
        watch.database = database;
        watch.primary = primary;
        watch.standby = standby;
        if (placement.otherVersion(nodeOf(primary)).isPresent()) {
            return; // a node of another version may not fence itself as this one counts on: its primary is never failed over from here
        }
        while (true) {
            long began = System.nanoTime();
            String failure = null;
            if (connections.acceptsConnections(primary, REACH_TIMEOUT)) {
                Future<ServerSession.PrimaryCheck> reading = checks.submit(() -> remoteCheck(database, primary));
                try {
                    // Bounded below a login's whole-second timeout: a cut that comes meanwhile is seen at once.
                    ServerSession.PrimaryCheck check = reading.get(REMOTE_CHECK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    if (!check.inRecovery()) {
                        if (watch.lastLsn == null) {
                            LOG.info("Database {}: node {} watches its primary on node {} from the standby's side, and can take over"
                                    + " should that node be lost", database.name(), node.name(), nodeOf(primary));
                        }
                        watch.lastLsn = check.current();
                        watch.timeline = check.timeline();
                        watch.synchronous = check.synchronousStandby();
                    }
                    watch.downSince = null;
                    return;
                } catch (TimeoutException e) {
                    reading.cancel(true);
                    failure = "it did not answer within " + REMOTE_CHECK_TIMEOUT.toMillis() + " ms";
                } catch (ExecutionException e) {
                    failure = e.getCause().getMessage();
                } catch (InterruptedException e) {
                    reading.cancel(true);
                    Thread.currentThread().interrupt();
                    return;
                }
                began = System.nanoTime();
            }
            // Only a port that does not accept a connection counts: one that accepts may be a primary that still takes writes
            // (its node's Keel stopped, a login refused), and a link that is up lets its standby's replies, its fence's
            // witness, through.
            if (failure != null && connections.acceptsConnections(primary, REACH_TIMEOUT)) {
                watch.downSince = null;
                return;
            }
            failure = (failure == null ? "" : failure + "; then ") + "its port did not accept a connection within "
                    + REACH_TIMEOUT.toMillis() + " ms";
            watch.downSince = watch.downSince == null ? began : watch.downSince;
            Duration cut = cut(watch);
            Optional<Duration> silent = placement.silentFor(nodeOf(primary));
            if (silent.isEmpty()) {
                return;
            }
            Duration due = fencedBy().minus(cut.compareTo(silent.get()) < 0 ? cut : silent.get());
            if (due.isNegative()) {
                failOverFromLostNode(database, watch, primary, standby, silent.get(), cut, failure);
                return;
            }
            if (due.compareTo(interval) >= 0) {
                return; // its node is alive and decides, or one cut off has not surely fenced itself yet: the next rounds look again
            }
            try {
                Thread.sleep(due.toMillis() + 20); // looked at again the moment it may be failed over, not a round later
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Fails the primary of a silent node over to the standby of this one, within the lag bound, under the database's lease. */
    private void failOverFromLostNode(Database database, Watch watch, Instance primary, Instance standby, Duration silent, Duration cut,
                                      String failure) {
        String missed = "node " + nodeOf(primary) + ", which hosts the primary, has been silent for " + silent.toMillis() + " ms and"
                + " the primary out of node " + node.name() + "'s reach for " + cut.toMillis() + " ms, longer than a node cut off takes"
                + " to fence it (" + fencedBy().toMillis() + " ms)";
        HaDecision decision = HaDecision.failOverOrRefuse(true, fenceAcks.acknowledged(standby.id(), primary.id(), nodeOf(primary)), watch.lastLsn,
                lookups(database, watch, primary, Optional.of(standby)), maxLagBytes, missed, " (" + failure + ")");
        if (decision.kind() != HaDecision.Kind.FAIL_OVER) {
            boolean news = watch.last == null || watch.last.kind() != decision.kind();
            watch.last = decision;
            if (news) {
                LOG.error("Database {}: {}", database.name(), decision.sentence());
            }
            record(database, decision, news, null);
            return;
        }
        try (DatabaseLeases.Lease lease = leases.tryAcquire(database.id(), ACTOR).orElse(null)) {
            // Under the lease, the primary's node is still silent: one back meanwhile restarts its primary itself.
            if (lease != null && databases.find(database.id()).filter(d -> d.state() == DatabaseState.AVAILABLE).isPresent()
                    && instances.primary(database.id()).map(Instance::id).equals(Optional.of(primary.id()))
                    && instances.standby(database.id()).map(Instance::id).equals(Optional.of(standby.id()))
                    && placement.silentFor(nodeOf(primary)).filter(s -> s.compareTo(fencedBy()) > 0).isPresent() && takeOver(watch)) {
                LOG.warn("Database {}: {}", database.name(), decision.sentence());
                watch.last = decision;
                try {
                    failover.failOverFromLostNode(database, primary, standby, decision, op -> record(database, decision, true, op));
                } finally {
                    vouchAgainUnlessFenced(watch, primary);
                }
                watch.lastLsn = null;
                watch.downSince = null;
                watch.buildAfter = Instant.now();
            }
        }
    }

    /**
     * How long the link from here to the watch's primary has surely been down: the cut may have come
     * up to one attempt's timeout after the first attempt that failed began, and the standby's last
     * reply (the primary's witness) with it; and never longer than since this node last vouched for
     * the primary ({@link #vouch}), which the primary's node counts as its witness.
     */
    private static Duration cut(Watch watch) {
        Long downSince = watch.downSince;
        long since = Math.max(downSince == null ? System.nanoTime() : downSince, watch.vouchedAt);
        return Duration.ofNanos(System.nanoTime() - since).minus(REACH_TIMEOUT);
    }

    /**
     * Whether this node may fail the watch's primary over now, and if so from then on vouches for it
     * no more: the primary's port still out of reach for longer than {@link #fencedBy}, counted
     * from the last vouch too. Decided under the watch's lock, so that a vouch is either counted
     * here or refused.
     */
    boolean takeOver(Watch watch) {
        synchronized (watch) {
            if (watch.downSince == null || cut(watch).compareTo(fencedBy()) <= 0) {
                return false;
            }
            seam.accept("take over");
            watch.takingOver = true;
            return true;
        }
    }

    /**
     * After a failover of {@code primary} from here that stopped before it fenced it in the catalog:
     * this node may vouch for it again (any vouch restarts its count once more). Should the catalog
     * not answer, it vouches no more for it, which can only get it fenced.
     */
    void vouchAgainUnlessFenced(Watch watch, Instance primary) {
        try {
            if (instances.primary(primary.databaseId()).map(Instance::id).equals(Optional.of(primary.id()))) {
                synchronized (watch) {
                    watch.takingOver = false;
                }
            }
        } catch (DataAccessException e) {
            LOG.warn("Could not read whether instance {} is still the primary after a failover from here ({}); this node vouches no"
                    + " more for it", primary.id(), e.getMessage());
        }
    }

    /**
     * Vouches, for the self-fence of the node that hosts {@code primaryId}, that this node, which
     * hosts its standby, reaches it ({@link StandbyVouches}): a connection to its port from here
     * must succeed now, and this node's count of its silence then starts no earlier than this
     * connection began, so that it promotes the standby no sooner than {@link #fencedBy} after it.
     * Returns null when it vouched, else why not: another node's standby, a primary this node does
     * not watch, out of reach, or one it is failing over.
     */
    @Nullable
    String vouch(UUID primaryId, UUID standbyId) {
        for (Watch watch : watches.values()) {
            synchronized (watch) {
                Instance primary = watch.primary;
                Instance standby = watch.standby;
                if (primary == null || !primary.id().equals(primaryId)) {
                    continue;
                }
                if (standby == null || !standby.id().equals(standbyId) || !nodeOf(standby).equals(node.name())
                        || nodeOf(primary).equals(node.name())) {
                    return "node " + node.name() + " does not host its standby " + standbyId;
                }
                if (watch.takingOver) {
                    return "node " + node.name() + " is failing it over";
                }
                long began = System.nanoTime();
                seam.accept("vouch");
                if (!connections.acceptsConnections(primary, REACH_TIMEOUT)) {
                    return "its port did not accept a connection from node " + node.name() + " within " + REACH_TIMEOUT.toMillis() + " ms";
                }
                watch.vouchedAt = Math.max(watch.vouchedAt, began);
                return null;
            }
        }
        return "node " + node.name() + " does not watch it";
    }

    /**
     * How long after its last catalog contact, and after its standby's last reply, a node cut off
     * surely stopped its primaries ({@link #selfFence}): T_fence, a round of the self-fence, and
     * half a second to kill them (all at once).
     */
    Duration fencedBy() {
        return fenceAfter.plus(fencePeriod).plusMillis(500);
    }

    /** The watch of {@code databaseId}, made if there is none: the tests' way to set what a node saw before a vouch or a takeover. */
    Watch watch(UUID databaseId) {
        return watches.computeIfAbsent(databaseId, id -> new Watch());
    }

    /**
     * Whether this node's catalog contact is recent enough to act on a database (restart, promote,
     * fail over): a node whose contact is older than half of T_fence may soon be seen as lost by
     * others, who then count on it to stay fenced. It acts once its contact is fresh again, which
     * the others read under the lease before they promote.
     */
    private boolean contactFresh() {
        return heartbeat.sinceCatalogContact().compareTo(fenceAfter.dividedBy(2)) < 0;
    }

    /**
     * The fence that holds across a partition (pg_auto_failover's rule): a primary of this node that
     * has had a standby on another node, once this node has reached neither the catalog (its last
     * contact, {@link NodeHeartbeat#sinceCatalogContact}) nor that standby (its last reply, read on
     * the primary every round once the contact is half T_fence old, {@link StandbyClock#repliedAt}) for T_fence, is killed, and left
     * to start only read-only; all at once, each on a thread of its own, since the standby's node may
     * promote after {@link #fencedBy}. While the standby still replies, the primary serves on, so a
     * catalog outage alone takes no database down; a standby on this node needs no fence, since no
     * other node can promote it. Once the catalog is back, a primary the catalog still names is
     * started again by the monitor (and promoted, having come up read-only); one another node
     * replaced is fenced there, and stays down.
     */
    private void selfFence() {
        long now = System.nanoTime();
        warmStandbyNodes(now);
        long contact = heartbeat.lastContactNanos();
        if (heartbeat.hasContacted()) {
            // Its contact from its first real one on; the primaries (and the word that this self-fence covers them) only once
            // every database has been checked: until then the guard fences those an earlier Keel listed, by this contact.
            boolean covers = firstRoundListed && firstChecks.isEmpty();
            guards.publish(fenceAfter, contact, covers ? guarded() : null, witnessed());
        }
        if (now - contact <= fenceAfter.toNanos() / 2) {
            return;
        }
        watches.forEach((id, watch) -> {
            Database database = watch.database;
            Instance primary = watch.primary;
            if (!fencedHere(watch)) {
                return;
            }
            if (watch.witnessing.compareAndSet(false, true)) {
                checks.execute(() -> {
                    try {
                        long began = System.nanoTime();
                        lastReply(database, primary).ifPresent(seconds -> {
                            Instance standby = watch.standby;
                            noteReplyAge(database, watch, standby == null ? null : standby.id(), seconds);
                            watch.witnessedAt = Math.max(watch.witnessedAt, StandbyClock.repliedAt(began, seconds, watch.standbyClock.aheadNanos()));
                        });
                    } finally {
                        watch.witnessing.set(false);
                    }
                });
            }
            // Asked beside the read of the reply (whose login may take its whole timeout), from a witness a quarter of T_fence old:
            // an answer within askTimeout() then lands well before this self-fence's deadline and the guard's.
            long witnessed = watch.witnessedAt;
            if ((witnessed == Long.MIN_VALUE || now - witnessed > fenceAfter.toNanos() / 4) && watch.asking.compareAndSet(false, true)) {
                checks.execute(() -> {
                    try {
                        askStandbyNode(database, watch, primary);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } finally {
                        watch.asking.set(false);
                    }
                });
            }
            if (FenceGuard.unvouchedNanos(now, contact, watch.witnessedAt) > fenceAfter.toNanos() && watch.fencing.compareAndSet(false, true)) {
                checks.execute(() -> {
                    try {
                        if (heartbeat.sinceCatalogContact().compareTo(fenceAfter) > 0 && runtime.isRunning(primary)) {
                            LOG.error("Database {}: fencing its primary (instance {}): node {} has reached neither the catalog nor its"
                                    + " standby for {} ms; the standby's node may promote it. Once the catalog is back, Keel starts it"
                                    + " again if no other node took over", database.name(), primary.id(), node.name(),
                                    Duration.ofNanos(System.nanoTime() - Math.max(contact, watch.witnessedAt)).toMillis());
                            runtime.fence(primary);
                        }
                    } catch (RuntimeException e) {
                        LOG.error("Database {}: could not fence its primary (instance {}); kill it by hand", database.name(),
                                primary.id(), e);
                    } finally {
                        watch.fencing.set(false);
                    }
                });
            }
        });
    }

    /**
     * What a check that looks no further (another actor holds the lease) still notes the first time
     * it sees a database: its primary on this node and its standby, so that the self-fence and the
     * fence guard know it from a Keel's start on, however long the lease is held.
     */
    private void rememberServers(Database database, Watch watch) {
        Optional<Instance> primary = instances.primary(database.id()).filter(p -> nodeOf(p).equals(node.name()));
        if (primary.isEmpty()) {
            return;
        }
        noteServers(database, watch, primary.get(), instances.standby(database.id()).filter(s -> s.state() == InstanceState.RUNNING));
        connections.remember(primary.get());
    }

    /** Notes the database's primary and standby in its watch, and whether the standby is on another node, which could promote it. */
    private void noteServers(Database database, Watch watch, Instance primary, Optional<Instance> standby) {
        watch.database = database;
        watch.primary = primary;
        watch.standby = standby.orElse(null);
        watch.standbyElsewhere |= standby.filter(s -> !nodeOf(s).equals(node.name())).isPresent();
        // The failsafe checks a standby elsewhere without the catalog, with its password as last read; the self-fence asks its node.
        standby.filter(s -> !nodeOf(s).equals(node.name())).ifPresent(s -> {
            connections.remember(s);
            rememberNodeUrl(nodeOf(s));
            acknowledgeFence(watch, primary, s);
        });
    }

    /**
     * Gives this node's word, once per standby, that its self-fence covers {@code primary} with
     * {@code standby} on another node: once the fence guard's watch on disk lists the primary (the
     * self-fence's round after the check that noted the standby writes it), so that the word holds
     * whether Keel runs or not; only then may that node fail the primary over from elsewhere
     * ({@link StandbyFenceAcks}). Given again at a later check should the catalog not take it (said
     * once: until then that node fails nothing over from there).
     */
    private void acknowledgeFence(Watch watch, Instance primary, Instance standby) {
        if (standby.id().equals(watch.fenceAcknowledged) || !guards.covers(primary.id())) {
            return;
        }
        try {
            fenceAcks.acknowledge(standby.id(), primary.id(), node.name());
            watch.fenceAcknowledged = standby.id();
            watch.fenceAckFailing = false;
        } catch (DataAccessException e) {
            if (!watch.fenceAckFailing) {
                watch.fenceAckFailing = true;
                LOG.warn("Could not record that node {}'s self-fence covers primary {} with its standby on node {} ({}): until it is,"
                        + " that node does not fail the primary over from there; tried again at the next check", node.name(),
                        primary.id(), nodeOf(standby), e.getMessage());
            }
        }
    }

    /**
     * Withdraws this node's word that its self-fence covers its primaries' standbys on other nodes:
     * as its Keel starts, before any of its servers does, since this monitor covers them only from
     * its checks on (its checks give the word again, {@link #acknowledgeFence}).
     */
    public void withdrawFenceAcks() {
        fenceAcks.withdraw(node.name());
    }

    /**
     * Notes the API URL of node {@code name}, for {@link #askStandbyNode} during a catalog outage;
     * read at most every minute (the checks run at once: the one that claims the read reads).
     */
    private void rememberNodeUrl(String name) {
        Instant now = Instant.now();
        Instant readAt = nodeUrlsReadAt.get(name);
        boolean claimed = readAt == null ? nodeUrlsReadAt.putIfAbsent(name, now) == null
                : readAt.isBefore(now.minus(NODE_URL_KEPT)) && nodeUrlsReadAt.replace(name, readAt, now);
        if (claimed) {
            try {
                registry.address(name).ifPresent(url -> nodeUrls.put(name, url));
            } catch (DataAccessException e) {
                nodeUrlsReadAt.remove(name, now); // the address last read stands; read again at the next check
            }
        }
    }

    /**
     * The self-fence's second witness, when the standby's replies no longer vouch for the primary:
     * the standby's node, asked just after {@code began}, vouches that it reaches the primary's port
     * itself and counts its silence from no earlier ({@link #vouch}), so the primary serves on from
     * then ({@link StandbyVouches}). Said once as it starts and stops vouching.
     */
    private void askStandbyNode(Database database, Watch watch, Instance primary) throws InterruptedException {
        Instance standby = watch.standby;
        String url = standby == null || nodeOf(standby).equals(node.name()) ? null : nodeUrls.get(nodeOf(standby));
        long began = System.nanoTime();
        Duration timeout = askTimeout(began, watch);
        if (timeout.isZero()) {
            return; // past the deadline: the primary is fenced, and an answer would come too late for it
        }
        String refusal = url == null ? "no standby on another node, or its node's API address is not known here"
                : vouches.ask(url, primary.id(), standby.id(), timeout);
        if (refusal == null) {
            watch.witnessedAt = Math.max(watch.witnessedAt, began);
        }
        if (!Objects.equals(refusal, watch.vouchRefusal)) {
            watch.vouchRefusal = refusal;
            if (refusal == null) {
                // Asked once the last witness is a quarter of T_fence old: the standby may still reply, only not that recently.
                LOG.warn("Database {}: node {} does not reach the catalog, but node {}, which hosts the standby, vouches that it reaches"
                        + " the primary (and will not promote meanwhile): the primary serves on", database.name(), node.name(),
                        nodeOf(standby));
            } else {
                LOG.warn("Database {}: the node of its standby does not vouch for the primary ({}): without the catalog or a reply of"
                        + " the standby, it is fenced {} ms after its last witness", database.name(), refusal, fenceAfter.toMillis());
            }
        }
    }

    /**
     * Keeps connections open to each node that hosts a standby of a primary this node's self-fence
     * kills, one for each such primary (as many as that node answers at once), for
     * {@link #askStandbyNode}: every {@link #WARM_EVERY}, with or without the catalog, so that they
     * outlast the server's idle timeout through an outage, and a node restarted meanwhile is warmed
     * again soon ({@link StandbyVouches#warm}). What does not answer as it should is said once.
     */
    private void warmStandbyNodes(long now) {
        Map<String, Integer> primaries = new HashMap<>();
        for (Watch watch : watches.values()) {
            String standbyNode = standbyNodeElsewhere(watch);
            if (standbyNode != null) {
                primaries.merge(standbyNode, 1, Integer::sum);
            }
        }
        primaries.forEach((name, count) -> {
            String url = nodeUrls.get(name);
            Long warmed = warmedAt.get(name);
            if (url == null || warmed != null && now - warmed < WARM_EVERY.toNanos()) {
                return;
            }
            warmedAt.put(name, now);
            CompletableFuture<String> warming;
            try {
                // Off the self-fence's thread: the first warming makes the client (its TLS context).
                warming = CompletableFuture.supplyAsync(() -> vouches.warm(url, Math.min(count, StandbyVouches.ANSWERING_THREADS)), checks)
                        .thenCompose(warm -> warm).exceptionally(Throwable::toString);
            } catch (RejectedExecutionException stopping) {
                return;
            }
            warming.thenAccept(problem -> {
                String before = problem == null ? warmProblems.remove(name) : warmProblems.put(name, problem);
                if (problem != null && !problem.equals(before)) {
                    LOG.warn("Node {}'s API ({}) did not answer a question of this node's self-fence as it should ({}): during a catalog"
                            + " outage it may not vouch in time for the primaries here whose standby it hosts", name, url, problem);
                } else if (problem == null && before != null) {
                    LOG.info("Node {}'s API answers the questions of this node's self-fence again", name);
                }
            });
        });
    }

    /**
     * How long the self-fence waits, asking at {@code now}, for the standby's node to vouch: until a
     * round before its deadline (T_fence after the later of its catalog contact and the last
     * witness), at most a second and at least 100 ms; zero once the deadline has passed (no question
     * then). The first question comes once the contact is half T_fence old, so it has some three
     * eighths of T_fence (750 ms at 2 s), where a quarter (500 ms, with the asked node's own 250 ms
     * connection to the primary inside) timed out under load in CI; an answer counts from when it
     * was asked.
     */
    private Duration askTimeout(long now, Watch watch) {
        long unvouched = FenceGuard.unvouchedNanos(now, heartbeat.lastContactNanos(), watch.witnessedAt);
        if (unvouched > fenceAfter.toNanos()) {
            return Duration.ZERO;
        }
        long left = fenceAfter.toNanos() - unvouched - fencePeriod.toNanos();
        return Duration.ofNanos(Math.max(ASK_TIMEOUT_MIN.toNanos(), Math.min(left, ASK_TIMEOUT_MAX.toNanos())));
    }

    /** When each primary this node's self-fence kills was last vouched for by its standby or the standby's node, for the fence guard. */
    private Map<UUID, Long> witnessed() {
        Map<UUID, Long> witnessed = new HashMap<>();
        for (Watch watch : watches.values()) {
            Instance primary = watch.primary;
            long at = watch.witnessedAt;
            if (primary != null && at != Long.MIN_VALUE && fencedHere(watch)) {
                witnessed.put(primary.id(), at);
            }
        }
        return witnessed;
    }

    /**
     * The node of the watch's standby, when this node's self-fence kills its primary ({@link #fencedHere}) and that standby is on
     * another node now; else null: the primaries the fence guard is given, and whose standby's node the self-fence keeps warm.
     */
    @Nullable
    private String standbyNodeElsewhere(Watch watch) {
        Instance standby = watch.standby;
        return standby != null && fencedHere(watch) && !nodeOf(standby).equals(node.name()) ? nodeOf(standby) : null;
    }

    /** Whether the watch's primary is one this node's self-fence kills: on this node, having had a standby on another. */
    private boolean fencedHere(Watch watch) {
        return watch.database != null && watch.primary != null && watch.standbyElsewhere && nodeOf(watch.primary).equals(node.name());
    }

    /**
     * The primaries the fence guard kills should Keel not ({@link FenceGuard}): those this node's
     * self-fence kills that run and have a standby on another node now (not one they once had: a
     * standby that left must not get its primary fenced at Keel's next restart), with Keel's
     * password on each as last read (a primary this node never connected to is not listed yet).
     */
    private List<FenceWatch.Server> guarded() {
        List<FenceWatch.Server> servers = new ArrayList<>();
        for (Watch watch : watches.values()) {
            Database database = watch.database;
            Instance primary = watch.primary;
            if (standbyNodeElsewhere(watch) == null) {
                continue;
            }
            connections.knownPassword(primary).filter(password -> runtime.isRunning(primary)).ifPresent(password -> {
                ServerFence.Target files = runtime.fenceTarget(primary);
                servers.add(new FenceWatch.Server(primary.id(), files.dataDir(), files.spool(), primary.host(), primary.port(),
                        primary.major(), password, ReplicationSlots.forStandby(database.id())));
            });
        }
        return servers;
    }

    /**
     * Notes a reply age of {@code standby} read on the primary in {@code watch}'s clock
     * ({@link StandbyClock#note}), and says once the lead of its host's clock has grown by 50 ms.
     */
    private void noteReplyAge(Database database, Watch watch, @Nullable UUID standby, double ageSeconds) {
        if (watch.standbyClock.note(standby == null ? null : standby.toString(), ageSeconds, System.nanoTime())
                >= TimeUnit.MILLISECONDS.toNanos(50)) {
            LOG.warn("Database {}: the clock of its standby's host runs at least {} ms ahead of node {}'s; its self-fence counts the"
                    + " standby's replies that much older, and so fences that much sooner. Keep the hosts' clocks in step (NTP)",
                    database.name(), TimeUnit.NANOSECONDS.toMillis(watch.standbyClock.aheadNanos()), node.name());
        }
        long behind = watch.standbyClock.behindToSay();
        if (behind > 0) {
            LOG.warn("Database {}: its standby's replies read at least {} ms older than right clocks and a prompt reply allow (over 30 s"
                    + " of steady replies): the clock of its host runs behind node {}'s, or its replies come that late. During a catalog"
                    + " outage the self-fence counts them so, and may fence a primary whose standby still replies unless the standby's"
                    + " node vouches. Keep the hosts' clocks in step (NTP)", database.name(), TimeUnit.NANOSECONDS.toMillis(behind),
                    node.name());
        } else if (behind == 0) {
            LOG.info("Database {}: its standby's replies no longer read measurably older than right clocks allow", database.name());
        }
    }

    /** What the standby's node reads of a primary another node hosts. */
    private ServerSession.PrimaryCheck remoteCheck(Database database, Instance primary) throws SQLException {
        try (ServerSession session = connections.probe(primary, probeSeconds)) {
            return session.primaryCheck(ReplicationSlots.forStandby(database.id()));
        }
    }

    /**
     * How many seconds ago, by this host's clock, the standby last replied to {@code primary}, read
     * without the catalog; empty when it does not stream, or the primary does not answer.
     */
    private Optional<Double> lastReply(Database database, Instance primary) {
        try (ServerSession session = connections.probeWithoutCatalog(primary, probeSeconds)) {
            return session.standbyRepliedSecondsAgo(ReplicationSlots.forStandby(database.id()));
        } catch (SQLException e) {
            return Optional.empty();
        }
    }

    /** Kills a server of this node that the catalog says is fenced, should it run: one another node failed over while this one was cut off. */
    private void stopFencedHere() {
        for (Instance fenced : instances.fencedHere()) {
            if (runtime.isRunning(fenced)) {
                LOG.error("Fencing instance {} of database {}: another node failed it over while this node was cut off, and it still ran",
                        fenced.id(), fenced.databaseId());
                runtime.fence(fenced);
            }
        }
    }

    /** The node an instance is on (one from before nodes were recorded is this node's). */
    private String nodeOf(Instance instance) {
        return instance.node() == null ? node.name() : instance.node();
    }

    /**
     * The node a standby beside its primary should move to, if one can take it now: at most every
     * 30 s, once the primary's timeline has a base backup to build it from.
     */
    private Optional<String> apartNode(Database database, Watch watch, Instance primary) {
        if (Instant.now().isBefore(watch.apartCheckedAt.plusSeconds(30))) {
            return Optional.empty();
        }
        watch.apartCheckedAt = Instant.now();
        Optional<Backup> backup = standbyBuild.newestRestorable(database);
        if (backup.isEmpty() || backup.get().finishedAt() == null || !backup.get().finishedAt().isAfter(watch.buildAfter)
                || watch.timeline == null || !watch.timeline.equals(backup.get().timeline())) {
            return Optional.empty();
        }
        // Chosen under the placement lock, so that no new database is taking the room as it is read. It is held once the move
        // records the new standby's build (replaceStandby, under the lock again, before the old one is removed); a move whose
        // room a new database took in between is not made, and this is looked at again 30 s later.
        try {
            return dsl.transactionResult(tx -> nodeApart(tx.dsl(), database, primary));
        } catch (KeelException e) {
            return Optional.empty(); // no room anywhere: it stays beside its primary
        }
    }

    /**
     * Placement's node for a standby of {@code database} other than its primary's, if one runs this
     * version of Keel, chosen in transaction {@code tx} ({@link Placement#chooseAndHold}): the one
     * that records the standby's build, or one that only reads.
     */
    private Optional<String> nodeApart(DSLContext tx, Database database, Instance primary) {
        String chosen = placement.chooseAndHold(tx, nodeOf(primary), Placement.Demand.standby(database.id(), database.plan())).node();
        // Read on the transaction's connection: every standby build waiting on the lock holds one.
        return apart(primary, chosen, placement.otherVersion(tx, chosen).isPresent());
    }

    private Optional<String> apart(Instance primary, String chosen, boolean otherVersion) {
        return chosen.equals(nodeOf(primary)) || otherVersion ? Optional.empty() : Optional.of(chosen);
    }

    private void act(Database database, Watch watch, Instance primary, Optional<Instance> standby, HaDecision decision) {
        if (!ACTS.contains(decision.kind())) {
            actOn(database, watch, primary, standby, decision);
            return;
        }
        acting.add(database.id());
        try {
            actOn(database, watch, primary, standby, decision);
        } finally {
            acting.remove(database.id());
        }
    }

    private void actOn(Database database, Watch watch, Instance primary, Optional<Instance> standby, HaDecision decision) {
        boolean news = watch.last == null || watch.last.kind() != decision.kind();
        watch.last = decision;
        UUID operation = null;
        HaDecision recorded = decision;
        switch (decision.kind()) {
            case HEALTHY -> {
                watch.promotionSettled();
                if (watch.timeline != null) {
                    timelineBackups.pursue(database, watch.timeline);
                }
                requestStandby(database, watch, primary);
            }
            case WATCHING -> LOG.warn("Database {}: {}", database.name(), decision.sentence());
            case RESTART_IN_PLACE -> operation = restartInPlace(database, watch, primary, decision);
            case FINISH_PROMOTION -> {
                if (backingOff(watch, primary)) {
                    return;
                }
                LOG.warn("Database {}: {}", database.name(), decision.sentence());
                finishPromotion(database, watch, primary, decision);
                return;
            }
            case FAIL_OVER -> {
                LOG.warn("Database {}: {}", database.name(), decision.sentence());
                failover.failOver(database, primary, standby.orElseThrow(), decision, op -> record(database, decision, true, op));
                watch.missed = 0;
                watch.lastLsn = null;
                watch.buildAfter = Instant.now();
                return;
            }
            case REFUSE -> {
                if (news) {
                    LOG.error("Database {}: {}", database.name(), decision.sentence());
                }
            }
            case REPLACE_STANDBY -> {
                String moveTo = watch.moveTo;
                operation = replaceStandby(database, watch, primary, standby);
                if (moveTo != null && watch.moveTo == null) {
                    // Not moved after all (replaceStandby): nothing is recorded, as nothing was done.
                    recorded = new HaDecision(HaDecision.Kind.HEALTHY, "not moving the standby to node " + moveTo + ": no node other"
                            + " than its primary's has room for it any more; it stays beside its primary");
                }
                LOG.warn("Database {}: {}", database.name(), recorded.sentence());
            }
        }
        record(database, recorded, news, operation);
    }

    /**
     * Finishes a promotion a failover left, as an operation. One that fails again (a standby whose
     * startup stays stuck) is tried again after {@link #promotionBackoff}, not every round: each
     * try is an operation of its own, and one a round would fill the operations table while an
     * operator looks into the server. A healthy primary clears the count.
     */
    private void finishPromotion(Database database, Watch watch, Instance standby, HaDecision decision) {
        if (failover.finishPromotion(database, standby, decision, op -> record(database, decision, true, op))) {
            watch.promotionSettled();
        } else {
            watch.promotionsFailed++;
            Duration wait = promotionBackoff(watch.promotionsFailed);
            watch.promoteAgainAt = Instant.now().plus(wait);
            LOG.error("Database {}: finishing the promotion failed {} time(s) in a row; trying again in {} s", database.name(),
                    watch.promotionsFailed, wait.toSeconds());
        }
    }

    /**
     * Whether the next try to finish a promotion waits out its backoff: not once the standby has
     * left recovery on its own (the request of a try that timed out went through once its startup
     * went on), which is finished at once.
     */
    private boolean backingOff(Watch watch, Instance standby) {
        if (!Instant.now().isBefore(watch.promoteAgainAt)) {
            return false;
        }
        try (ServerSession session = connections.probe(standby, probeSeconds)) {
            return session.inRecovery();
        } catch (SQLException | RuntimeException e) {
            return true;
        }
    }

    /** 15 s after the first failed try, doubling after each further one, at most 10 minutes. */
    static Duration promotionBackoff(int failedInARow) {
        return Duration.ofSeconds(Math.min(15L << Math.min(failedInARow - 1, 6), 600));
    }

    /**
     * Keeps a decision other than "healthy" for GET .../ha in the catalog, when it is news or
     * started an operation: every node shows it, also once the watch has moved to another node.
     */
    private void record(Database database, HaDecision decision, boolean news, @Nullable UUID operation) {
        if (decision.kind() != HaDecision.Kind.HEALTHY && (news || operation != null)) {
            Recorded recorded = new Recorded(decision.kind().name().toLowerCase(Locale.ROOT), decision.sentence(), Instant.now(), operation);
            try {
                decisions.record(database.id(), node.name(), recorded, KEPT_DECISIONS);
            } catch (DataAccessException e) {
                LOG.warn("Database {}: the decision '{}' could not be kept in the catalog: {}", database.name(), decision.sentence(),
                        e.getMessage());
            }
        }
    }

    /**
     * Whether the database is not the monitor's to look at now: it is not available (being made or
     * deleted), or another actor holds its lease (a switchover, an unfollow or a plan change stops
     * and starts its servers on purpose, a deletion removes them).
     */
    private boolean busy(Database database) {
        return databases.find(database.id()).map(d -> d.state() != DatabaseState.AVAILABLE).orElse(true)
                || leases.holder(database.id()).isPresent();
    }

    /**
     * One round on a primary this node hosts: observe it, decide ({@link HaDecision#decide}: pure but for the lookups it makes
     * only when a rule needs them), then keep what was seen for the next round. On a primary that answered, commits are turned
     * synchronous or not first, on the session it answered on (their own pure rule, {@link SyncCommit#decide}), before anything
     * reads the catalog: letting waiting commits go must not wait for placement.
     */
    private HaDecision decide(Database database, Watch watch, Instance primary, Optional<Instance> standby) {
        watch.moveTo = null;
        HaDecision.Lookups lookups = lookups(database, watch, primary, standby);
        boolean intact = runtime.intact(primary);
        String failure = "its data directory is gone or damaged";
        // A server whose data directory is gone may still answer for a while, from memory: it is no longer healthy.
        if (intact) {
            try (ServerSession session = connections.probe(primary, probeSeconds)) {
                ServerSession.PrimaryCheck check = session.primaryCheck(ReplicationSlots.forStandby(database.id()));
                Instant now = Instant.now();
                if (check.standbyReplyAgeSeconds() != null) {
                    // Every round: the self-fence may need it next.
                    noteReplyAge(database, watch, standby.map(Instance::id).orElse(null), check.standbyReplyAgeSeconds());
                }
                if (check.inRecovery()) {
                    return HaDecision.decide(observation(primary, standby, true, null, check, null, now), history(watch), limits, lookups);
                }
                watch.missed = 0;
                watch.restarts = 0;
                watch.lastLsn = check.current();
                watch.timeline = check.timeline();
                watch.synchronous = check.synchronousStandby();
                syncCommit(database, watch, session, check, watch.seen.observe(check, now), now, true);
                watch.standbyLag = check.standbyLagBytes();
                watch.standbyState = check.standbyState();
                HaDecision decision = HaDecision.decide(observation(primary, standby, true, null, check, watch.seen.notStreamingSince(),
                        now), history(watch), limits, lookups);
                watch.moveTo = decision.moveTo();
                return decision;
            } catch (SQLException e) {
                failure = "it does not answer: " + e.getMessage();
            }
        }
        // The history as it stands: a round whose primary answered before its session failed has reset it, as any answer does.
        HaDecision decision = HaDecision.decide(observation(primary, standby, intact, failure, null, null, Instant.now()), history(watch),
                limits, lookups);
        if (decision.kind() != HaDecision.Kind.RESTART_IN_PLACE) {
            watch.missed++;
        }
        return decision;
    }

    private static HaDecision.History history(Watch watch) {
        return new HaDecision.History(watch.missed, watch.restarts, watch.lastLsn);
    }

    /** What a round saw: {@code check} is what the primary answered, null when it did not ({@code failure} says why). */
    private HaDecision.Observation observation(Instance primary, Optional<Instance> standby, boolean intact, @Nullable String failure,
                                               @Nullable ServerSession.PrimaryCheck check, @Nullable Instant notStreamingSince,
                                               Instant now) {
        return new HaDecision.Observation(primary.id(), nodeOf(primary), node.name(), standby.map(this::nodeOf).orElse(null), intact,
                failure, check != null && check.inRecovery(), check != null || runtime.isRunning(primary),
                check == null ? null : check.standbySlotStatus(), check == null ? null : check.standbyState(), notStreamingSince, now);
    }

    /** What a decision about {@code database} may read, only when it needs it ({@link HaDecision.Lookups}). */
    private HaDecision.Lookups lookups(Database database, Watch watch, Instance primary, Optional<Instance> standby) {
        return new HaDecision.Lookups() {
            @Override
            public boolean silent(String name) {
                return placement.silent().contains(name);
            }

            @Override
            public Optional<String> nodeApart() {
                return apartNode(database, watch, primary);
            }

            @Override
            public HaDecision.StandbyPosition standbyPosition() {
                return standby.map(HaMonitor.this::standbyPosition).orElse(HaDecision.StandbyPosition.NOT_ANSWERING);
            }
        };
    }

    /** What {@code standby} has received, read now; a standby whose session fails, even as it closes, does not answer. */
    private HaDecision.StandbyPosition standbyPosition(Instance standby) {
        Optional<Lsn> received;
        try (ServerSession session = connections.probe(standby, probeSeconds)) {
            received = session.received();
        } catch (SQLException e) {
            return HaDecision.StandbyPosition.NOT_ANSWERING;
        }
        return new HaDecision.StandbyPosition(true, received.orElse(null));
    }

    /**
     * Turns synchronous commit on or off on a healthy primary, as {@link SyncCommit} decides. It is
     * turned on only under the database's lease ({@code catalog}: the catalog can be reached) and for
     * a plan that still asks for it (a plan change that removes the standby holds the lease), and
     * turned off at once, with or without the catalog.
     */
    private void syncCommit(Database database, Watch watch, ServerSession session, ServerSession.PrimaryCheck check, Duration longestWait,
                            Instant now, boolean catalog) throws SQLException {
        SyncCommit.Verdict verdict = SyncCommit.decide(wantsSync(database), check, longestWait, watch.seen.notStreamingSince(),
                watch.degraded, watch.heldOffUntil, now, syncGrace);
        watch.degraded = verdict.degraded();
        switch (verdict.action()) {
            case ENABLE -> {
                if (!catalog) {
                    return; // on again once the catalog says the plan still asks for it, under the lease
                }
                try (DatabaseLeases.Lease lease = leases.tryAcquire(database.id(), ACTOR).orElse(null)) {
                    if (lease != null && databases.find(database.id()).filter(this::wantsSync).isPresent()
                            && instances.standby(database.id()).isPresent()) {
                        session.synchronousStandby(ReplicationSlots.forStandby(database.id()));
                        watch.synchronous = true;
                        watch.seen.forgetWaiters();
                        LOG.info("Database {}: commits wait for the standby again (synchronous)", database.name());
                    }
                }
            }
            case DISABLE -> {
                session.synchronousStandby(null);
                watch.synchronous = false;
                if (verdict.degraded() != null) {
                    if (longestWait.compareTo(syncGrace) > 0) {
                        watch.heldOffUntil = now.plus(syncGrace.multipliedBy(SyncCommit.HOLD_OFF_GRACES));
                    }
                    LOG.warn("Database {}: degraded: writes are acknowledged before they reach the standby: {}", database.name(),
                            verdict.degraded());
                }
            }
            case NONE -> { }
        }
    }

    /**
     * While the catalog cannot be reached, the failsafe (Patroni's name): the monitor's round reads
     * the catalog and so checks nothing, and this node decides no failover (it is taken under the
     * lease). What must not stop is letting commits go: a primary whose commits wait for a standby
     * that died would otherwise hold every premium write until the catalog returns. So each primary
     * last seen synchronous is checked as the round would, from what the monitor last knew, with
     * the superuser password it last read, and its commits are let go after the grace; they wait
     * for the standby again once the catalog is back and the round turns it on under the lease.
     * Only while no other node can have promoted the standby ({@link #standbyStillAStandby}):
     * otherwise the commits that wait are those of a primary replaced elsewhere, and letting them
     * go would acknowledge writes on a timeline that is over.
     */
    private void failsafe() {
        if (catalogLostSince == null) {
            return;
        }
        Loops.round("The HA monitor's failsafe round", () -> watches.forEach((id, watch) -> {
            Database database = watch.database;
            Instance primary = watch.primary;
            // Only the primaries of this node (a standby's node watches another's too), and only while they run (not fenced).
            if (!watch.synchronous || database == null || primary == null || !nodeOf(primary).equals(node.name())
                    || !runtime.isRunning(primary) || acting.contains(id) || !failsafeRunning.add(id)) {
                return;
            }
            checks.execute(() -> {
                try {
                    if (standbyStillAStandby(database, watch)) {
                        letWaitersGo(database, watch, primary, false);
                    }
                } finally {
                    failsafeRunning.remove(id);
                }
            });
        }));
    }

    /**
     * Lets the primary's commits go when they waited past the grace (or its standby went silent),
     * as a check would, but never turns synchronous commit on: for a database another actor holds
     * ({@code catalog} true), or while the catalog cannot be reached (the superuser password last read).
     */
    private void letWaitersGo(Database database, Watch watch, Instance primary, boolean catalog) {
        try (ServerSession session = catalog ? connections.probe(primary, probeSeconds)
                : connections.probeWithoutCatalog(primary, probeSeconds)) {
            ServerSession.PrimaryCheck check = session.primaryCheck(ReplicationSlots.forStandby(database.id()));
            if (!check.inRecovery()) {
                Instant now = Instant.now();
                watch.synchronous = check.synchronousStandby();
                syncCommit(database, watch, session, check, watch.seen.observe(check, now), now, false);
            }
        } catch (SQLException e) {
            // A server the lease holder restarts on purpose does not answer for a moment: checked again next round.
            LOG.debug("Database {}: could not check whether commits wait for the standby: {}", database.name(), e.getMessage());
        }
    }

    /**
     * Whether the standby last seen cannot have been promoted by another node while this one lost
     * the catalog: there is none, it is on this node (a promotion is carried out by the node that
     * hosts it), or it answers and is still in recovery. A standby elsewhere that does not answer
     * may have been promoted: the commits keep waiting (the primary stays fenced by its own
     * synchronous commit) until the catalog says more. An instance with no node recorded was made
     * before nodes were, on this one.
     */
    private boolean standbyStillAStandby(Database database, Watch watch) {
        Instance standby = watch.standby;
        if (standby == null || standby.node() == null || standby.node().equals(node.name())) {
            return true;
        }
        String refusal;
        try (ServerSession session = connections.probeWithoutCatalog(standby, probeSeconds)) {
            if (session.inRecovery()) {
                return true;
            }
            refusal = "the standby on node " + standby.node() + " is no longer in recovery (promoted by another node?)";
        } catch (SQLException e) {
            refusal = "the standby on node " + standby.node() + " does not answer (" + e.getMessage() + "), and another node may"
                    + " have promoted it";
        }
        // Once, not every round of an outage that may last minutes.
        if (!refusal.equals(watch.failsafeRefusal)) {
            watch.failsafeRefusal = refusal;
            LOG.warn("Database {}: the failsafe does not let commits go: {}", database.name(), refusal);
        }
        return false;
    }

    private boolean wantsHa(Database database) {
        return plans.find(database.plan()).map(Plan::ha).orElse(false) && !database.following();
    }

    private boolean wantsSync(Database database) {
        return wantsHa(database) && !asynchronousPlans.contains(database.plan());
    }

    /**
     * Commits stop waiting for a standby, whatever else holds the database: for a database no
     * longer on an HA plan, or whose standby is being replaced. Says whether they no longer wait.
     */
    private boolean letCommitsGo(Database database, Watch watch, String why) {
        Optional<Instance> primary = instances.primary(database.id());
        if (primary.isEmpty()) {
            return true;
        }
        try (ServerSession session = connections.probe(primary.get(), probeSeconds)) {
            if (session.primaryCheck(ReplicationSlots.forStandby(database.id())).synchronousStandby()) {
                session.synchronousStandby(null);
                LOG.info("Database {}: commits no longer wait for a standby ({})", database.name(), why);
            }
            watch.synchronous = false;
            return true;
        } catch (SQLException e) {
            LOG.warn("Database {}: could not check whether its commits still wait for a standby: {}", database.name(), e.getMessage());
            return false;
        }
    }

    private UUID restartInPlace(Database database, Watch watch, Instance primary, HaDecision decision) {
        LOG.warn("Database {}: {}", database.name(), decision.sentence());
        Operation operation = dsl.transactionResult(tx -> operations.createHere(tx.dsl(), database.teamId(), database.id(),
                OperationKind.RESTART, decision.sentence(), 1));
        watch.restarts++;
        try {
            startAgain(primary);
            operations.progress(operation.id(), "restarted in place: " + decision.sentence(), 1, 1);
            operations.succeed(operation.id());
        } catch (RuntimeException e) {
            LOG.error("Database {}: the primary did not start again in place", database.name(), e);
            operations.fail(operation.id(), "The primary did not start again in place: " + e.getMessage());
            watch.missed++; // counts as a missed check: a primary that cannot start is failed over
        }
        return operation.id();
    }

    /**
     * Starts a primary whose postmaster died. Its children notice the death on their own, some
     * only after a moment; until the last has gone, its shared memory is in use and a new
     * postmaster refuses to start, so a few tries are allowed. Started as every start is
     * ({@link Reconfiguration#startOrGoBack}): files it does not start from, of a change Keel
     * stopped during, give way to the ones it last accepted.
     */
    private void startAgain(Instance primary) {
        for (int attempt = 1; ; attempt++) {
            try {
                reconfiguration.startOrGoBack(primary);
                return;
            } catch (RuntimeException e) {
                if (runtime.isRunning(primary)) {
                    LOG.warn("Instance {} started again in place: {}", primary.id(), e.getMessage());
                    return;
                }
                if (attempt == RESTART_ATTEMPTS) {
                    throw e;
                }
                try {
                    Thread.sleep(500);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /**
     * Removes a standby (the standby and its data, then the slot) whose slot the primary
     * invalidated, whose node is lost, or that moves away from beside its primary, and asks for a
     * new one at once; returns the build's operation. Called under the lease. When the old standby
     * is this node's (beside its primary, as one that moves is), the new one's build is recorded
     * before the old one is removed, so that its node's room is held throughout
     * ({@code NodeRepository.pending}); the build waits for the lease ({@code StandbyBuild}), so it
     * starts once the removal, slot included, is done. One on another node is removed first, by
     * that node, in order before the new build it may be given.
     */
    @Nullable
    private UUID replaceStandby(Database database, Watch watch, Instance primary, Optional<Instance> standby) {
        watch.lastBuildAttempt = Instant.EPOCH;
        Operation next = standby.filter(s -> nodeOf(s).equals(node.name())).isPresent() ? recordStandby(database, watch, primary, true)
                : null;
        if (next != null && watch.moveTo != null && next.node().equals(nodeOf(primary))) {
            // A move whose room went between the decision and this record: the standby stays, rather than rebuilt where it is.
            operations.fail(next.id(), "not moving the standby: no node other than its primary's has room for it any more");
            watch.moveTo = null;
            return null;
        }
        // Before the removal, or dropping the slot's role would be a commit that waits for the standby being removed, holding
        // the lease and every other commit: without that, nothing is removed, and the next check decides again.
        if (!letCommitsGo(database, watch, "its standby is being replaced")) {
            if (next != null) {
                operations.fail(next.id(), "the standby was not replaced: its primary's commits could not be let go first");
            }
            return null;
        }
        try {
            standbyBuild.remove(database);
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Database {}: removing its standby did not finish ({}); a new one is built anyway, and the build makes the lost"
                    + " slot anew", database.name(), e.getMessage());
        }
        watch.standby = null;
        if (next == null) {
            return requestStandby(database, watch, primary);
        }
        runner.submit(next);
        return next.id();
    }

    /**
     * Asks for a standby where an HA database has none, from a base backup of the primary's
     * timeline newer than its last failover; returns the build's operation. The standby goes to
     * another active node with room than the primary's when there is one (so that losing the
     * primary's host leaves it), else to the primary's; that node builds it.
     */
    @Nullable
    private UUID requestStandby(Database database, Watch watch, Instance primary) {
        Operation operation = recordStandby(database, watch, primary, false);
        if (operation == null) {
            return null;
        }
        runner.submit(operation);
        return operation.id();
    }

    /**
     * Records a standby's build ({@link #requestStandby}) without starting it; none while one is
     * under way, while the database has a standby (unless it is being {@code replacing}), within
     * the retry pause, or before the primary's timeline has a base backup to build from.
     */
    @Nullable
    private Operation recordStandby(Database database, Watch watch, Instance primary, boolean replacing) {
        Optional<Operation> building = operations.running(database.id(), EnumSet.of(OperationKind.STANDBY));
        if (building.isPresent() && !givenUp(database, building.get())) {
            return null;
        }
        if (!replacing && instances.standby(database.id()).isPresent() || Instant.now().isBefore(watch.lastBuildAttempt.plus(standbyRetry))) {
            return null;
        }
        Optional<Backup> backup = standbyBuild.newestRestorable(database);
        if (backup.isEmpty() || backup.get().finishedAt() == null || !backup.get().finishedAt().isAfter(watch.buildAfter)
                || watch.timeline != null && !watch.timeline.equals(backup.get().timeline())) {
            return null; // the new timeline's backup comes first (TimelineBackups), also when another node failed it over
        }
        watch.lastBuildAttempt = Instant.now();
        // Chosen and recorded in one transaction, under the placement lock: the standby then counts on its node's room for every
        // other choice, as a new database's servers do, before its build reserves its server.
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), database.teamId(), database.id(),
                OperationKind.STANDBY, StandbyBuild.BUILDING, 1, standbyNode(tx.dsl(), database, primary)));
        String where = operation.node();
        if (!where.equals(primary.node())) {
            LOG.info("Database {}: its standby is built on node {}, away from its primary's node {} (operation {})", database.name(),
                    where, primary.node(), operation.id());
        }
        return operation;
    }

    /**
     * Whether the standby build {@code building} was given up because its node fell silent (past
     * {@code keel.node.lost-after}), so that another node builds one: the build is failed, and
     * the server it was making is left to its node to remove when it returns.
     */
    private boolean givenUp(Database database, Operation building) {
        String builder = building.node();
        if (builder == null || builder.equals(node.name()) || !placement.silent().contains(builder)) {
            return false;
        }
        if (!operations.giveUpOnSilent(building.id(), builder, Failure.of(ProblemType.UNAVAILABLE, "Node " + builder + " fell silent"
                + " before it built the standby; another node builds one."))) {
            return false;
        }
        LOG.warn("Database {}: node {}, which was to build its standby, is silent; another node builds one", database.name(), builder);
        instances.standby(database.id()).filter(s -> builder.equals(s.node())).ifPresent(s -> standbyBuild.abandon(database, s));
        return true;
    }

    /** The node a new standby of {@code database} goes to: away from its primary's, on a node that runs this version of Keel. */
    private String standbyNode(DSLContext tx, Database database, Instance primary) {
        try {
            return nodeApart(tx, database, primary).orElse(nodeOf(primary));
        } catch (KeelException e) {
            LOG.warn("Database {}: no node has room for its standby ({}); it is built beside its primary", database.name(), e.getMessage());
            return nodeOf(primary);
        }
    }

    /**
     * The HA status of {@code database} as the monitor last saw it, with its recent decisions (from
     * the catalog, whichever node took them); asked of a node that does not watch it (another hosts
     * its primary), as that node reads its primary now.
     */
    public Status status(Database database) {
        Watch watch = current(database);
        Optional<Instance> standby = instances.standby(database.id());
        return new Status(describe(database, watch, standby), standby.map(Instance::id).orElse(null), standby.map(Instance::port).orElse(null),
                watch == null ? null : watch.standbyLag, watch == null ? null : watch.standbyState, watch == null ? null : watch.synchronous,
                decisions.recent(database.id(), KEPT_DECISIONS));
    }

    /** The HA status line of {@code database} alone ("Available", or why not), without reading its decisions. */
    public String availability(Database database) {
        return describe(database, current(database), instances.standby(database.id()));
    }

    /** The node that watches a database: the one that hosts its primary, or, while it has none, its running standby. */
    private String watcher(Optional<Instance> primary, Optional<Instance> standby) {
        return primary.or(() -> standby).map(Instance::node).orElse(node.name());
    }

    private String watcher(Database database) {
        return watcher(instances.primary(database.id()), instances.standby(database.id()).filter(s -> s.state() == InstanceState.RUNNING));
    }

    /** What this node knows of {@code database}: its own watch when it watches it, else what it reads of its primary now. */
    @Nullable
    private Watch current(Database database) {
        if (!wantsHa(database)) {
            return watches.get(database.id());
        }
        if (watcher(database).equals(node.name())) {
            return watches.get(database.id());
        }
        // Read again at most every few seconds: views and metrics of many databases ask too.
        Observed seen = observations.get(database.id());
        if (seen == null || seen.at().isBefore(Instant.now().minus(OBSERVATION_KEPT))) {
            seen = new Observed(Instant.now(), observed(database));
            observations.put(database.id(), seen);
        }
        return seen.watch();
    }

    private record Observed(Instant at, Watch watch) {
    }

    /** What this node, which does not watch {@code database}, reads of its primary now: a watch with no history. */
    private Watch observed(Database database) {
        Watch seen = new Watch();
        Optional<Instance> primary = instances.primary(database.id());
        if (primary.isEmpty()) {
            return seen;
        }
        // A primary out of reach answers a view at once, not after a login's timeout (a client re-reading the URL waits on it).
        if (!connections.acceptsConnections(primary.get(), REACH_TIMEOUT)) {
            seen.last = new HaDecision(HaDecision.Kind.WATCHING, "the primary's port does not accept a connection from node " + node.name());
            return seen;
        }
        try (ServerSession session = connections.probe(primary.get(), probeSeconds)) {
            ServerSession.PrimaryCheck check = session.primaryCheck(ReplicationSlots.forStandby(database.id()));
            seen.standbyLag = check.standbyLagBytes();
            seen.standbyState = check.standbyState();
            seen.synchronous = check.synchronousStandby();
            if (wantsSync(database) && !check.synchronousStandby() && "streaming".equals(check.standbyState())) {
                seen.degraded = "node " + primary.get().node() + ", which watches the primary, turned synchronous commit off; its"
                        + " HA status says why";
            }
            seen.last = new HaDecision(HaDecision.Kind.HEALTHY, "the primary answered");
        } catch (SQLException e) {
            seen.last = new HaDecision(HaDecision.Kind.WATCHING, "the primary does not answer node " + node.name() + ": " + e.getMessage());
        }
        return seen;
    }

    private String describe(Database database, @Nullable Watch watch, Optional<Instance> standby) {
        if (!wantsHa(database)) {
            return "Not on an HA plan";
        }
        if (database.state() != DatabaseState.AVAILABLE) {
            return "Unavailable: the database is " + database.state().value();
        }
        if (watch != null && watch.last != null && watch.last.kind() != HaDecision.Kind.HEALTHY) {
            return "Unavailable: " + watch.last.sentence();
        }
        if (standby.isEmpty() || standby.get().state() != InstanceState.RUNNING) {
            return operations.running(database.id(), EnumSet.of(OperationKind.STANDBY)).isPresent() || standby.isPresent()
                    ? "Unavailable: building the standby" : "Unavailable: no standby yet; it is built from the newest base backup";
        }
        if (watch != null && !watch.synchronous && watch.degraded != null && !"the standby is not streaming".equals(watch.degraded)) {
            return "Degraded: writes are acknowledged before they reach the standby (" + watch.degraded + ")";
        }
        if (watch == null || !"streaming".equals(watch.standbyState)) {
            return "Unavailable: the standby is not streaming from the primary";
        }
        if (watch.standbyLag != null && watch.standbyLag > maxLagBytes) {
            return "Unavailable: the standby is " + watch.standbyLag + " bytes behind, more than the bound of " + maxLagBytes + " bytes";
        }
        return "Available";
    }

    @Override
    public List<DatabaseInfo.Line> lines(Database database) {
        if (!wantsHa(database)) {
            return List.of();
        }
        return List.of(DatabaseInfo.Line.of("HA Status", describe(database, current(database), instances.standby(database.id()))));
    }
}
