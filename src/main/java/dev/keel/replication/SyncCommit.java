package dev.keel.replication;

import dev.keel.postgres.ServerSession;
import io.micronaut.core.annotation.Nullable;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * Synchronous commit on an HA primary: a commit is acknowledged only once the standby has flushed
 * it, so a failover loses no acknowledged write. The monitor turns it on once the standby streams
 * and has caught up, and off (degraded: writes are acknowledged before they reach the standby)
 * when a commit has waited longer than the grace, or the standby has not streamed for that long,
 * so an unhealthy standby delays writes by at most the grace and never stops them.
 */
final class SyncCommit {
    /** How far behind the standby may be when synchronous commit is turned on (a commit would wait for the rest). */
    static final long CATCH_UP_BYTES = 1024 * 1024;
    /** After a commit waited past the grace, synchronous commit stays off for this many graces. */
    static final int HOLD_OFF_GRACES = 6;

    enum Action { NONE, ENABLE, DISABLE }

    /** What to do, and why commits are not synchronous when they should be (null when they are, or need not be). */
    record Verdict(Action action, @Nullable String degraded) {
    }

    private SyncCommit() {
    }

    /**
     * {@code wanted}: the plan asks for synchronous commit; {@code longestWait}: how long the longest
     * waiting commit has been seen waiting; {@code notStreamingSince}: since when the standby has not
     * been streaming (null while it does); {@code degraded}: the reason kept from before;
     * {@code heldOffUntil}: after a commit waited too long, synchronous commit stays off until then,
     * so that a slow standby does not stall writes again and again.
     */
    static Verdict decide(boolean wanted, ServerSession.PrimaryCheck check, Duration longestWait, @Nullable Instant notStreamingSince,
                          @Nullable String degraded, @Nullable Instant heldOffUntil, Instant now, Duration grace) {
        return decide("the standby", wanted, check, longestWait, notStreamingSince, degraded, heldOffUntil, now, grace);
    }

    /** As above, for commits that wait for {@code waitedFor} ("the standby", "the WAL receiver"). */
    static Verdict decide(String waitedFor, boolean wanted, ServerSession.PrimaryCheck check, Duration longestWait,
                          @Nullable Instant notStreamingSince, @Nullable String degraded, @Nullable Instant heldOffUntil, Instant now,
                          Duration grace) {
        if (!wanted) {
            return new Verdict(check.synchronousStandby() ? Action.DISABLE : Action.NONE, null);
        }
        boolean streaming = "streaming".equals(check.standbyState());
        if (check.synchronousStandby()) {
            if (longestWait.compareTo(grace) > 0) {
                return new Verdict(Action.DISABLE, String.format("a commit waited %.1f s for " + waitedFor + ", more than the %d s allowed",
                        longestWait.toMillis() / 1000.0, grace.toSeconds()));
            }
            if (notStreamingSince != null && Duration.between(notStreamingSince, now).compareTo(grace) > 0) {
                return new Verdict(Action.DISABLE, waitedFor + " has not streamed for more than " + grace.toSeconds() + " s");
            }
            return new Verdict(Action.NONE, null);
        }
        boolean heldOff = heldOffUntil != null && now.isBefore(heldOffUntil);
        if (!heldOff && streaming && check.standbyLagBytes() != null && check.standbyLagBytes() <= CATCH_UP_BYTES) {
            return new Verdict(Action.ENABLE, null);
        }
        return new Verdict(Action.NONE, degraded != null ? degraded : streaming ? waitedFor + " is catching up"
                : waitedFor + " is not streaming");
    }

    /**
     * The primary's check as the WAL receiver's ({@code receiver}, its application name): whether
     * commits wait for the receiver alone, in place of whether they wait for anyone; and its
     * "silent" (no reply for 15 s by the reply's stamp) as streaming: the stamp is another host's
     * clock (and pgjdbc before 42.7.9 stamped it from {@link System#nanoTime}), and a receiver that
     * hangs shows in the commits that wait. Keel's rounds, their failsafe and the fence guard read it alike.
     */
    static ServerSession.PrimaryCheck receiverCheck(ServerSession session, String receiver) throws SQLException {
        ServerSession.PrimaryCheck c = session.primaryCheck(receiver);
        boolean waiting = session.waitsFor(receiver);
        String state = "silent".equals(c.standbyState()) ? "streaming" : c.standbyState();
        return new ServerSession.PrimaryCheck(c.inRecovery(), c.current(), c.standbyLagBytes(), state, c.timeline(), waiting,
                c.syncWaiters(), c.standbySlotStatus(), c.standbyReplyAgeSeconds());
    }

    /**
     * What one watcher has seen of a primary's synchronous commits: when each commit seen waiting
     * ("pid:start", {@link ServerSession.PrimaryCheck#syncWaiters()}) was first seen, and since when
     * what they wait for has not streamed. Waits are timed from these sightings, not from the
     * server's clock. The monitor's round and its failsafe may share one (an observation of a check
     * read before the other's newer one can then restart a wait's timing: never sooner let go).
     */
    static final class Seen {
        private final Map<String, Instant> waiters = new HashMap<>();
        private @Nullable Instant notStreamingSince;

        /** Takes in {@code check}, read at {@code now}; returns how long its longest-waiting commit has been seen waiting. */
        synchronized Duration observe(ServerSession.PrimaryCheck check, Instant now) {
            notStreamingSince = "streaming".equals(check.standbyState()) ? null : notStreamingSince != null ? notStreamingSince : now;
            waiters.keySet().retainAll(check.syncWaiters());
            check.syncWaiters().forEach(waiter -> waiters.putIfAbsent(waiter, now));
            return waiters.values().stream().min(Instant::compareTo).map(first -> Duration.between(first, now)).orElse(Duration.ZERO);
        }

        /** Since when what the commits wait for has not streamed, as last observed (null while it does). */
        synchronized @Nullable Instant notStreamingSince() {
            return notStreamingSince;
        }

        /** Commits begin to wait (again): the waits seen before were for something else. */
        synchronized void forgetWaiters() {
            waiters.clear();
        }

        /** The servers are not the ones seen before (a failover, a rebuilt standby): everything seen is forgotten. */
        synchronized void forget() {
            waiters.clear();
            notStreamingSince = null;
        }
    }
}
