package dev.keel;

import io.micronaut.context.ApplicationContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Keel's stop ({@code SIGTERM}, {@code Ctrl-C}) closes the application context, whose parts let
 * their running work finish for a while; the whole stop is held to {@code keel.shutdown.grace-seconds}.
 * Past it, Keel says which threads were still busy and ends the process as a {@code kill -9}
 * would: nothing a stop leaves unfinished is lost, since the next start resumes or retries it
 * (see {@code Reconciler}). A supervisor's own patience (Docker's stop timeout, systemd's
 * {@code TimeoutStopSec}) should be longer than the grace.
 */
final class ShutdownDeadline {
    /** The exit status of a stop by signal, as the JVM's own: 128 + SIGTERM. */
    static final int STATUS = 143;
    private static final Logger LOG = LoggerFactory.getLogger(ShutdownDeadline.class);

    private ShutdownDeadline() {
    }

    /** Closes {@code context} on the JVM's shutdown, within the configured grace. */
    static void install(ApplicationContext context) {
        Duration grace = Duration.ofSeconds(context.getProperty("keel.shutdown.grace-seconds", Long.class).orElse(20L));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(grace.toMillis());
                } catch (InterruptedException e) {
                    return;
                }
                LOG.warn("Keel did not stop within {} s; ending now (what was unfinished resumes at the next start). Still busy:\n{}",
                        grace.toSeconds(), busyThreads());
                Runtime.getRuntime().halt(STATUS);
            }, "keel-shutdown-deadline");
            watchdog.setDaemon(true);
            watchdog.start();
            context.close();
            watchdog.interrupt();
        }, "keel-shutdown"));
    }

    /** Keel's own threads that are not waiting for work, with where they are. */
    private static String busyThreads() {
        return Thread.getAllStackTraces().entrySet().stream()
                .filter(e -> e.getKey().getName().startsWith("keel-") && !e.getKey().getName().equals("keel-shutdown-deadline"))
                .filter(e -> !isIdle(e.getValue()))
                .map(ShutdownDeadline::describe)
                .collect(Collectors.joining("\n"));
    }

    /** A pool's thread waiting for its next task (scheduled ones too) is idle, whatever its state. */
    private static boolean isIdle(StackTraceElement[] stack) {
        return Arrays.stream(stack).anyMatch(f -> f.getMethodName().equals("getTask"));
    }

    private static String describe(Map.Entry<Thread, StackTraceElement[]> thread) {
        return "  " + thread.getKey().getName() + " (" + thread.getKey().getState() + ")" + Arrays.stream(thread.getValue()).limit(12)
                .map(f -> "\n      at " + f).collect(Collectors.joining());
    }
}
