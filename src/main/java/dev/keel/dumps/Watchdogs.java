package dev.keel.dumps;

import dev.keel.DaemonThreads;
import dev.keel.jobs.Loops;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The one timer thread that the dumps' watchdogs share: {@link DownloadStallWatch} (the download
 * server's slow clients), {@link IdleDeadlineInputStream} (a restore's silent server) and
 * {@link DumpUrls}' deadline for a restore URL's TLS handshake and headers. Their
 * checks are short and never block, so one thread serves all of them.
 */
final class Watchdogs {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-dumps-watch"));

    private Watchdogs() {
    }

    /**
     * Runs {@code check} every {@code period} (at least 50 ms) until the answer is cancelled. A check that throws is logged and
     * runs again at its next turn ({@link Loops#round}): the scheduler would otherwise cancel it for good, silently, and with it
     * the watchdog.
     */
    static ScheduledFuture<?> every(Duration period, Runnable check) {
        long millis = Math.max(50, period.toMillis());
        return TIMER.scheduleWithFixedDelay(() -> Loops.round("A backup download or restore watchdog check", check), millis, millis,
                TimeUnit.MILLISECONDS);
    }

    /** Runs {@code action} once, after {@code delay}, unless the answer is cancelled first; a throw is logged. */
    static ScheduledFuture<?> after(Duration delay, Runnable action) {
        return TIMER.schedule(() -> Loops.round("A restore's header deadline", action), delay.toMillis(), TimeUnit.MILLISECONDS);
    }
}
