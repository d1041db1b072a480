package dev.keel.jobs;

import dev.keel.Fatal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
