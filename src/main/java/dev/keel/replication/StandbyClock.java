package dev.keel.replication;

import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * What a primary's self-fence knows of its standby's clock, which the reply ages it reads compare
 * with this host's; the HA monitor and the fence guard each keep one per primary, and count the
 * standby's last reply by it ({@link #repliedAt}).
 */
final class StandbyClock {
    /** How long a standby clock's lead is kept after it was last seen. */
    static final long LEAD_KEPT_NANOS = TimeUnit.MINUTES.toNanos(10);

    private String standby;
    private long aheadNanos;
    private long seenAt;

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
        if (!Objects.equals(of, standby) || now - seenAt > LEAD_KEPT_NANOS) {
            standby = of;
            aheadNanos = 0;
            seenAt = now;
        }
        long before = aheadNanos;
        if (ahead == 0 || ahead < before) {
            return 0;
        }
        aheadNanos = ahead;
        seenAt = now;
        return ahead - before;
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
