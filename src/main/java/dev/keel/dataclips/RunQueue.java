package dev.keel.dataclips;

import dev.keel.DaemonThreads;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Runs of clips on a fixed set of runner threads, shared fairly by teams. A team has at most
 * {@code concurrency} runs running and {@code waiting} more queued, and starts at most
 * {@code perMinute} runs a minute (a token bucket that refills evenly); past either it is
 * refused at once, with the seconds to wait. A runner that frees takes the oldest queued run of
 * the next team in turn (round robin over teams with runs queued, skipping teams already at
 * their concurrency), so one team's queue never stands in front of another team's run, and
 * while fewer teams than runners are busy each one's run starts at once.
 */
final class RunQueue {
    /** Retry-After when a team's runs are all taken: runs usually take seconds. */
    static final long FULL_RETRY_SECONDS = 5;

    private final int concurrency;
    private final int waiting;
    private final int perMinute;
    private final LongSupplier nanoClock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition ready = lock.newCondition();
    private final Map<UUID, Lane> lanes = new HashMap<>();
    /** Teams with queued runs, in the order runners serve them. */
    private final Deque<Lane> turns = new ArrayDeque<>();
    private final List<Thread> runners = new ArrayList<>();
    private boolean stopped;

    /** One team's runs: queued, how many run, and its tokens. */
    private static final class Lane {
        final UUID team;
        final Deque<Runnable> queued = new ArrayDeque<>();
        int running;
        double tokens;
        long refilledAt;
        boolean inTurns;

        Lane(UUID team, double tokens, long now) {
            this.team = team;
            this.tokens = tokens;
            this.refilledAt = now;
        }
    }

    RunQueue(String name, int runners, int concurrency, int waiting, int perMinute, LongSupplier nanoClock) {
        if (runners < 1 || concurrency < 1 || waiting < 0 || perMinute < 1) {
            throw new IllegalArgumentException("dataclip runners " + runners + ", per team " + concurrency + " running, " + waiting
                    + " waiting, " + perMinute + " a minute: each must be at least 1 (waiting at least 0)");
        }
        this.concurrency = concurrency;
        this.waiting = waiting;
        this.perMinute = perMinute;
        this.nanoClock = nanoClock;
        for (int i = 1; i <= runners; i++) {
            Thread thread = DaemonThreads.daemon(this::serve, name + "-" + i);
            thread.start();
            this.runners.add(thread);
        }
    }

    /**
     * Queues {@code work} for {@code team}; its future completes with the work's value. 429
     * ({@code too-many-runs}, with Retry-After) when the team has all its runs running and queued,
     * or has started its runs of the last minute.
     */
    <T> CompletableFuture<T> submit(UUID team, Supplier<T> work) {
        CompletableFuture<T> done = new CompletableFuture<>();
        lock.lock();
        try {
            Lane lane = admit(team);
            lane.tokens -= 1;
            lane.queued.add(() -> {
                try {
                    done.complete(work.get());
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
            if (!lane.inTurns) {
                // A team that had nothing queued is served next; a team with runs queued waits its turn behind it.
                lane.inTurns = true;
                turns.addFirst(lane);
            }
            ready.signal();
        } finally {
            lock.unlock();
        }
        return done;
    }

    /** The 429 {@link #submit} would answer now, thrown; nothing when {@code team} may start a run (which this does not start). */
    void check(UUID team) {
        lock.lock();
        try {
            admit(team);
        } finally {
            lock.unlock();
        }
    }

    /** The team's lane when it may start a run now (the lock held); the 429 otherwise. */
    private Lane admit(UUID team) {
        if (stopped) {
            throw new IllegalStateException("the dataclip runners are stopped");
        }
        long now = nanoClock.getAsLong();
        Lane lane = lanes.computeIfAbsent(team, t -> new Lane(t, perMinute, now));
        refill(lane, now);
        if (lane.running + lane.queued.size() >= concurrency + waiting) {
            throw new KeelException(ProblemType.TOO_MANY_RUNS, "Your team has " + lane.running + " dataclip runs running and "
                    + lane.queued.size() + " waiting, the most it may (KEEL_DATACLIPS_TEAM_CONCURRENCY " + concurrency
                    + ", KEEL_DATACLIPS_TEAM_QUEUE " + waiting + "); try again once one has finished.").retryAfter(FULL_RETRY_SECONDS);
        }
        if (lane.tokens < 1) {
            throw TeamRunRate.refusal(perMinute, (long) Math.ceil((1 - lane.tokens) * 60 / perMinute));
        }
        return lane;
    }

    void stop() {
        lock.lock();
        try {
            stopped = true;
            ready.signalAll();
        } finally {
            lock.unlock();
        }
        runners.forEach(Thread::interrupt);
    }

    private void serve() {
        while (true) {
            Lane lane;
            Runnable next;
            lock.lock();
            try {
                while (true) {
                    if (stopped) {
                        return;
                    }
                    lane = nextLane();
                    if (lane != null) {
                        break;
                    }
                    ready.awaitUninterruptibly();
                }
                next = lane.queued.poll();
                lane.running++;
            } finally {
                lock.unlock();
            }
            try {
                next.run();
            } finally {
                lock.lock();
                try {
                    lane.running--;
                    forgetIfIdle(lane);
                    ready.signalAll(); // its team may have runs queued behind its concurrency
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** The next team in turn with a run queued and a run to spare, moved to the back of the turns; null when none. */
    private Lane nextLane() {
        for (int i = turns.size(); i > 0; i--) {
            Lane lane = turns.poll();
            if (lane.queued.isEmpty()) {
                lane.inTurns = false;
                continue;
            }
            turns.add(lane);
            if (lane.running < concurrency) {
                return lane;
            }
        }
        return null;
    }

    private void refill(Lane lane, long now) {
        lane.tokens = Math.min(perMinute, lane.tokens + (now - lane.refilledAt) / 60e9 * perMinute);
        lane.refilledAt = now;
    }

    /** A team with nothing running or queued and a full bucket needs no lane (its next submit makes a new one). */
    private void forgetIfIdle(Lane lane) {
        refill(lane, nanoClock.getAsLong());
        if (lane.running == 0 && lane.queued.isEmpty() && lane.tokens >= perMinute) {
            lanes.remove(lane.team);
        }
    }
}
