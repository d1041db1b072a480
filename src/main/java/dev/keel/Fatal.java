package dev.keel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Keel does when the JVM itself fails: on an {@link OutOfMemoryError} (or an internal or
 * unknown JVM error) it cannot trust any of its state, so it says so on stderr and ends the
 * process at once with status 3, for a supervisor to start it again; the reconciler then finishes
 * or cleans up the work it was doing. A {@link StackOverflowError} is not fatal: it unwinds one
 * thread's work, and the loop or request it hit goes on. {@code -XX:+ExitOnOutOfMemoryError} (in
 * the README's command) covers the OutOfMemoryErrors that code catches before they get here.
 */
public final class Fatal {
    /** The exit status of a fatal JVM error, as {@code -XX:+ExitOnOutOfMemoryError} exits. */
    public static final int STATUS = 3;
    private static final Logger LOG = LoggerFactory.getLogger(Fatal.class);

    private Fatal() {
    }

    /** Whether {@code failure} leaves the JVM in a state no one can reason about. */
    public static boolean isFatal(Throwable failure) {
        return failure instanceof VirtualMachineError && !(failure instanceof StackOverflowError);
    }

    /** Ends the process when {@code failure} is fatal; returns otherwise. */
    public static void haltIfFatal(Throwable failure) {
        if (isFatal(failure)) {
            // Plain stderr: logging may need memory there is none of.
            System.err.println("keel: fatal: " + failure + " in thread " + Thread.currentThread().getName()
                    + "; exiting with status " + STATUS + " for a supervisor to restart Keel");
            Runtime.getRuntime().halt(STATUS);
        }
    }

    /** Makes every thread's uncaught failure loud: logged with its thread, and fatal ones end the process. */
    public static void installUncaughtHandler() {
        Thread.setDefaultUncaughtExceptionHandler((thread, failure) -> {
            haltIfFatal(failure);
            LOG.error("Thread {} ended with an uncaught failure", thread.getName(), failure);
        });
    }
}
