package dev.keel.jobs;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import dev.keel.Fatal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;

/**
 * One round of a background loop (the HA monitor, the WAL scanner, a scheduled job): whatever it
 * throws, an {@link Error} too, is logged with what the round was and the loop keeps its schedule.
 * A fatal JVM error ends the process instead (see {@link Fatal}). Without this, an Error escaping a
 * {@code ScheduledExecutorService} task silently cancels every later run.
 */
public final class Loops {
    private static final Logger LOG = LoggerFactory.getLogger(Loops.class);

    private Loops() {
    }

    /**
     * The timer of a loop's rounds ({@code keel_loop_round_seconds{loop}}: count, sum and max), for
     * seeing how a node's cycles grow with its databases ({@code ops/bench/density.sh}).
     */
    public static Timer timer(MeterRegistry registry, String loop) {
        return Timer.builder("keel.loop.round").description("Rounds of a background loop and how long they took").tag("loop", loop)
                .register(registry);
    }

    /** As {@link #round(String, Runnable)}, timed by {@code timer}. */
    public static boolean round(String what, Timer timer, Runnable round) {
        long started = System.nanoTime();
        try {
            return round(what, round);
        } finally {
            timer.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
    }

    /** Runs {@code round}; says whether it completed. {@code what} names it in the log ("the HA monitor's round"). */
    public static boolean round(String what, Runnable round) {
        try {
            round.run();
            return true;
        } catch (Throwable failure) {
            Fatal.haltIfFatal(failure);
            LOG.error("{} failed; it runs again on its schedule", what, failure);
            return false;
        }
    }
}
