package dev.keel.replication;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.jobs.JobSchedule;
import dev.keel.jobs.Jobs;
import dev.keel.jobs.Loops;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.postgres.Durations;
import dev.keel.postgres.TimelineHistory;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The follower watch: every {@code keel.followers.check-interval} (a clustered Quartz job, so one
 * node at a time) it checks each available follower ({@link FollowerChecks}) and asks for a
 * {@link FollowerRebuild} of one whose slot was lost, that diverged from its leader's timeline,
 * that has no server left, or whose server runs another major than its leader's (its leader was
 * upgraded, and the rebuild the upgrade asked for failed or was not asked for yet), or whose
 * server's node is lost and the server does not answer (it is then made anew on another node).
 * A follower or leader whose lease another actor holds (an unfollow, a plan change, a failover)
 * is left alone that round; the rebuild itself is an operation and runs under the follower's lease.
 * Each verdict other than "follows" is logged once, counted in {@code keel.followers.rebuilds}
 * when it starts a rebuild, and shown in the follower's replication status until it changes.
 */
@Singleton
final class FollowerWatch implements JobSchedule {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerWatch.class);

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final FollowerChecks checks;
    private final DatabaseLeases leases;
    private final OperationRepository operations;
    private final FollowerRebuilds rebuilds;
    private final Duration interval;
    private final MeterRegistry meters;
    private final Timer roundTimer;
    private final Map<UUID, FollowerChecks.Verdict> verdicts = new ConcurrentHashMap<>();
    /** Rebuilds started for a follower since it last followed, and when the last began: each next waits twice as long. */
    private final Map<UUID, Backoff> backoffs = new ConcurrentHashMap<>();

    private record Backoff(int started, Instant last) {
        /** Not before the interval times 2^(rebuilds so far), at most 256 intervals (about an hour at 15 s). */
        Instant next(Duration interval) {
            return last.plus(interval.multipliedBy(1L << Math.min(started, 8)));
        }
    }

    FollowerWatch(DatabaseLookup databases, InstanceRepository instances, FollowerChecks checks, DatabaseLeases leases,
                  OperationRepository operations, FollowerRebuilds rebuilds, MeterRegistry meters,
                  @Value("${keel.followers.check-interval:15s}") String interval) {
        this.databases = databases;
        this.instances = instances;
        this.checks = checks;
        this.leases = leases;
        this.operations = operations;
        this.rebuilds = rebuilds;
        this.meters = meters;
        this.roundTimer = Loops.timer(meters, "follower-watch");
        this.interval = Durations.parse("KEEL_FOLLOWERS_CHECK_INTERVAL", interval);
    }

    @Override
    public void register(Scheduler scheduler) throws SchedulerException {
        Jobs.every(scheduler, FollowerWatchJob.class, interval);
    }

    @Singleton
    @DisallowConcurrentExecution
    static final class FollowerWatchJob implements Job {
        private final FollowerWatch watch;

        FollowerWatchJob(FollowerWatch watch) {
            this.watch = watch;
        }

        @Override
        public void execute(JobExecutionContext context) {
            watch.round();
        }
    }

    /** Checks every available follower once; one that fails is logged and the others are still checked. */
    void round() {
        List<UUID> following = databases.following().stream().map(Database::id).toList();
        verdicts.keySet().retainAll(following);
        backoffs.keySet().retainAll(following);
        rebuilds.retainDeferred(following);
        for (Database follower : databases.following()) {
            Loops.round("The follower watch's check of " + follower.name(), roundTimer, () -> check(follower));
        }
    }

    /** The last verdict on {@code follower} other than "follows", if this node has one. */
    Optional<FollowerChecks.Verdict> trouble(UUID follower) {
        return Optional.ofNullable(verdicts.get(follower)).filter(v -> v.kind() != FollowerChecks.Verdict.Kind.FOLLOWS);
    }

    private void check(Database follower) {
        // Another actor changes the follower's or its leader's servers now; an upgrade of the leader asks for its followers'
        // rebuilds itself once it has switched (one that failed is asked for again here, the follower then on another major).
        if (leases.holder(follower.id()).isPresent() || leases.holder(follower.leaderId()).isPresent() || rebuilds.running(follower)
                || operations.running(follower.leaderId(), EnumSet.of(OperationKind.UPGRADE)).isPresent()) {
            return;
        }
        Optional<Database> leader = databases.find(follower.leaderId());
        Optional<Instance> leaderPrimary = leader.flatMap(l -> instances.primary(l.id()));
        if (leaderPrimary.isEmpty()) {
            return;
        }
        Optional<Instance> server = instances.primary(follower.id());
        FollowerChecks.Verdict verdict = server.isEmpty() ? FollowerChecks.Verdict.NO_SERVER_LEFT
                : checks.lostWithItsNode(follower, leaderPrimary.get(), server.get()).orElseGet(() -> checks.check(follower, leader.get(),
                        leaderPrimary.get(), server.get()));
        FollowerChecks.Verdict before = verdicts.put(follower.id(), verdict);
        if (verdict.kind() == FollowerChecks.Verdict.Kind.FOLLOWS) {
            backoffs.remove(follower.id());
        }
        if (!verdict.rebuilds()) {
            if (verdict.kind() != FollowerChecks.Verdict.Kind.FOLLOWS && (before == null || !before.equals(verdict))) {
                LOG.info("Follower {}: cannot tell whether it still follows: {}", follower.name(), verdict.sentence());
            }
            return;
        }
        if (!restorable(leader.get(), leaderPrimary.get())) {
            if (before == null || !before.equals(verdict)) {
                LOG.warn("Follower {}: {}; it is rebuilt once {} has a restorable base backup of its current timeline",
                        follower.name(), verdict.sentence(), leader.get().name());
            }
            return;
        }
        // A rebuild that fails, or a follower that loses its slot again at once (a tenant's long query holding replay),
        // is not rebuilt every round without end.
        Backoff backoff = backoffs.get(follower.id());
        if (backoff != null && Instant.now().isBefore(backoff.next(interval))) {
            if (before == null || !before.equals(verdict)) {
                LOG.warn("Follower {}: {}; rebuilt {} times since it last followed, so the next rebuild waits until {}", follower.name(),
                        verdict.sentence(), backoff.started(), backoff.next(interval));
            }
            return;
        }
        Optional<Operation> asked = verdict.kind() == FollowerChecks.Verdict.Kind.NODE_LOST
                ? rebuilds.askElsewhere(follower, verdict.sentence()) : rebuilds.ask(follower, verdict.sentence());
        if (asked.isEmpty()) {
            return;
        }
        backoffs.merge(follower.id(), new Backoff(1, Instant.now()), (old, first) -> new Backoff(old.started() + 1, first.last()));
        LOG.warn("Follower {}: rebuilding: {}", follower.name(), verdict.sentence());
        Counter.builder("keel.followers.rebuilds").description("Follower rebuilds the follower watch started, by why")
                .tag("reason", verdict.kind().name().toLowerCase(Locale.ROOT))
                .register(meters).increment();
    }

    /** Whether a rebuild would find a base backup of the leader to start from (else it would only fail). */
    private boolean restorable(Database leader, Instance leaderPrimary) {
        try {
            Optional<TimelineHistory> history = checks.history(leaderPrimary);
            return history.isPresent() && checks.startingPoint(leader, history.get()).isPresent();
        } catch (SQLException e) {
            return false;
        }
    }
}
