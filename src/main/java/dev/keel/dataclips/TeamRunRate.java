package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;

/**
 * A team's dataclip run rate across Keel's nodes: a token bucket of {@code perMinute} runs that
 * refills evenly over a minute, as each node's {@link RunQueue} keeps its own, but kept in the
 * catalog as one time per team (the generic cell rate algorithm): {@code next} is when the bucket
 * would be full again were no run started meanwhile. A run is let through unless {@code next} is
 * more than a minute, less one run's share, ahead of now, and moves it on by one run's share (a
 * minute over {@code perMinute}, at least a microsecond, the catalog clock's grain).
 */
record TeamRunRate(int perMinute) {
    TeamRunRate {
        if (perMinute < 1) {
            throw new IllegalArgumentException("a team's runs a minute must be at least 1, not " + perMinute);
        }
    }

    /**
     * The bucket's time once one more run starts at {@code now}, given its time {@code next} (null:
     * no run recorded, a full bucket); the 429 when the team's runs within the last minute took it all.
     */
    Instant admit(@Nullable Instant next, Instant now) {
        Duration share = share();
        Instant from = next == null || next.isBefore(now) ? now : next;
        Instant allowedFrom = from.minus(share.multipliedBy(perMinute - 1));
        if (now.isBefore(allowedFrom)) {
            throw refusal(perMinute, (long) Math.ceil(Duration.between(now, allowedFrom).toNanos() / 1e9));
        }
        return from.plus(share);
    }

    /** One run's share of the minute, rounded up to whole microseconds (what the catalog's times hold). */
    Duration share() {
        long micros = (60_000_000L + perMinute - 1) / perMinute;
        return Duration.ofNanos(Math.max(1, micros) * 1000);
    }

    /** The 429 of a team that started {@code perMinute} runs within the last minute, which may try again in {@code seconds}. */
    static KeelException refusal(int perMinute, long seconds) {
        long after = Math.max(1, seconds);
        return new KeelException(ProblemType.TOO_MANY_RUNS, "Your team started " + perMinute + " dataclip runs within the last"
                + " minute, the most it may (KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE); try again in " + after + " s.").retryAfter(after);
    }
}
