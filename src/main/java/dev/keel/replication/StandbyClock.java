package dev.keel.replication;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What a primary's self-fence knows of its standby's clock, which the reply ages it reads compare
 * with this host's; the HA monitor and the fence guard each keep one per primary, and count the
 * standby's last reply by it ({@link #repliedAt}). A clock ahead is counted (a reply younger than
 * 0); a clock behind, which makes the fence early, never late, is only measured and said
 * ({@link #behindToSay}).
 */
final class StandbyClock {
    /** How long a standby clock's lead is kept after it was last seen. */
    static final long LEAD_KEPT_NANOS = TimeUnit.MINUTES.toNanos(10);
    /** Keel's standbys reply every second ({@code wal_receiver_status_interval}): by right clocks, a reply read is at most that old, and its way. */
    static final long REPLY_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Reply ages are watched this long before the youngest of them says how far behind the standby's clock runs. */
    static final long BEHIND_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** For a reply's way and its read: a clock behind by less than this is not measured. */
    static final long BEHIND_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    /** A window measures only with this many reads or more, none further apart than {@link #BEHIND_GAP_NANOS} (else it starts again). */
    static final int BEHIND_READS = 20;
    static final long BEHIND_GAP_NANOS = TimeUnit.SECONDS.toNanos(3);
    /** A measure that moved less than this since it was last said is not said again. */
    private static final long BEHIND_SAID_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private String standby;
    private long aheadNanos;
    private long seenAt;
    private long windowFrom = Long.MIN_VALUE;
    private long youngest = Long.MAX_VALUE;
    private long oldest = Long.MIN_VALUE;
    private int reads;
    private long lastRead;
    private long behindNanos;
    private long behindSaid;

    /**
     * When ({@link System#nanoTime}) the standby last replied, by a read begun at {@code began} that
     * found its last reply {@code ageSeconds} old: this host's clock less the stamp the standby's
     * host put on it. That compares two hosts' clocks, so a standby's clock seen running
     * {@code aheadNanos} ahead makes its replies that much older (the least it runs ahead: a reply is
     * never younger than 0), and never later than the read began: a fence counted from it is not
     * late by the lead of a clock once seen.
     */
    static long repliedAt(long began, double ageSeconds, long aheadNanos) {
        return began - Math.max(0, (long) (ageSeconds * 1e9) + aheadNanos);
    }

    /**
     * Notes a reply age of standby {@code of}, read at {@code now}: a negative one is a standby's
     * host whose clock runs at least that far ahead of this host's. The lead is the largest seen of
     * that standby, kept {@link #LEAD_KEPT_NANOS} after it was last seen (a clock set right by NTP
     * stops adding to the fence's haste then); another standby starts afresh. Returns how much the
     * lead grew (0 when it did not), for the caller to say.
     */
    synchronized long note(String of, double ageSeconds, long now) {
        long ahead = Math.max(0, (long) (-ageSeconds * 1e9));
        if (!Objects.equals(of, standby)) {
            windowFrom = Long.MIN_VALUE;
            behindNanos = 0; // what was said of the last standby is taken back at the next behindToSay
        }
        if (!Objects.equals(of, standby) || now - seenAt > LEAD_KEPT_NANOS) {
            standby = of;
            aheadNanos = 0;
            seenAt = now;
        }
        measureBehind((long) (ageSeconds * 1e9), now);
        long before = aheadNanos;
        if (ahead == 0 || ahead < before) {
            return 0;
        }
        aheadNanos = ahead;
        seenAt = now;
        return ahead - before;
    }

    /**
     * Over each {@link #BEHIND_WINDOW_NANOS} of steady reads (at least {@link #BEHIND_READS}, none
     * over {@link #BEHIND_GAP_NANOS} apart): if the standby replied steadily (its reply ages spread
     * no more than a reply's interval and the slack: a hung standby's grow), the youngest age less
     * the interval and the slack is how much older its replies read than right clocks and a prompt
     * reply allow: its clock runs that far behind, or its replies come that late.
     */
    private void measureBehind(long ageNanos, long now) {
        if (windowFrom == Long.MIN_VALUE || now - lastRead > BEHIND_GAP_NANOS) {
            windowFrom = now;
            youngest = Long.MAX_VALUE;
            oldest = Long.MIN_VALUE;
            reads = 0;
        }
        lastRead = now;
        reads++;
        youngest = Math.min(youngest, ageNanos);
        oldest = Math.max(oldest, ageNanos);
        if (now - windowFrom >= BEHIND_WINDOW_NANOS) {
            if (reads >= BEHIND_READS && oldest - youngest <= REPLY_EVERY_NANOS + BEHIND_SLACK_NANOS) {
                behindNanos = Math.max(0, youngest - REPLY_EVERY_NANOS - BEHIND_SLACK_NANOS);
            }
            windowFrom = Long.MIN_VALUE;
        }
    }

    /**
     * How far the standby's clock runs behind this host's, at least, as last measured, when that
     * moved by 100 ms or more since it was last taken from here (0: no longer behind); else -1.
     */
    synchronized long behindToSay() {
        if (Math.abs(behindNanos - behindSaid) < BEHIND_SAID_STEP_NANOS) {
            return -1;
        }
        behindSaid = behindNanos;
        return behindNanos;
    }

    /** The lead of the standby's clock as last seen (0: never, or not for a while). */
    synchronized long aheadNanos() {
        return aheadNanos;
    }

    synchronized void forget() {
        standby = null;
        aheadNanos = 0;
    }
}
