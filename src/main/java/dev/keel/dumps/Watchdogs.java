package dev.keel.dumps;

import dev.keel.DaemonThreads;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The one timer thread that the dumps' watchdogs share: {@link DownloadStallWatch} (the download
 * server's slow clients) and {@link IdleDeadlineInputStream} (a restore's silent server). Their
 * checks are short and never block, so one thread serves all of them.
 */
final class Watchdogs {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-dumps-watch"));

    private Watchdogs() {
    }

    /** Runs {@code check} every {@code period} (at least 50 ms) until the answer is cancelled. */
    static ScheduledFuture<?> every(Duration period, Runnable check) {
        long millis = Math.max(50, period.toMillis());
        return TIMER.scheduleWithFixedDelay(check, millis, millis, TimeUnit.MILLISECONDS);
    }
}
