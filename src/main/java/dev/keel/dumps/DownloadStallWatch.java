package dev.keel.dumps;

import dev.keel.DaemonThreads;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Ends the exchanges of the download server ({@link DumpDownloadServer}) that make no progress
 * for {@code stall}: a client that sends its request, or takes the response's bytes, slower than
 * that. The JDK's HTTPS server has no socket timeouts and writes on a blocking channel, so a
 * client that stops reading would hold one of its few threads for as long as it likes; the
 * watch interrupts that thread instead, which closes the connection (its channel is
 * interruptible) and frees the thread. Progress is each request that reaches the handler and
 * each {@link #SLICE} of the response the client took, so a slow download that keeps moving
 * finishes however long it takes.
 */
final class DownloadStallWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DownloadStallWatch.class);
    /** The most written at once: a client must take this much per {@code stall} to keep its download. */
    static final int SLICE = 16 * 1024;

    private final long stallNanos;
    private final Duration stall;
    private final Map<Thread, Exchange> running = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-download-watch"));

    DownloadStallWatch(Duration stall) {
        this.stall = stall;
        this.stallNanos = stall.toNanos();
        long every = Math.max(100, stall.toMillis() / 5);
        timer.scheduleWithFixedDelay(this::endStalled, every, every, TimeUnit.MILLISECONDS);
    }

    /** One exchange on its thread: when it last made progress, and whether it still runs (guarded by itself). */
    private static final class Exchange {
        private final Thread thread;
        private volatile long progressAt = System.nanoTime();
        private boolean running = true;

        Exchange(Thread thread) {
            this.thread = thread;
        }
    }

    /** {@code executor}, its every task (an exchange: the TLS handshake, the request, the response) watched. */
    Executor watching(Executor executor) {
        return task -> executor.execute(() -> run(task));
    }

    private void run(Runnable task) {
        Exchange exchange = new Exchange(Thread.currentThread());
        running.put(exchange.thread, exchange);
        try {
            task.run();
        } finally {
            synchronized (exchange) {
                exchange.running = false; // from here on the watch never interrupts this thread for it
            }
            running.remove(exchange.thread);
            Thread.interrupted(); // an interrupt that ended it is not left for the thread's next exchange
        }
    }

    /** Marks progress of the exchange on this thread. */
    void progress() {
        Exchange exchange = running.get(Thread.currentThread());
        if (exchange != null) {
            exchange.progressAt = System.nanoTime();
        }
    }

    /** {@code out}, written a {@link #SLICE} at a time, each slice the client took marking progress. */
    OutputStream watched(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                for (int done = 0; done < length; done += SLICE) {
                    out.write(bytes, offset + done, Math.min(SLICE, length - done));
                    progress();
                }
            }
        };
    }

    private void endStalled() {
        long now = System.nanoTime();
        for (Exchange exchange : running.values()) {
            if (now - exchange.progressAt > stallNanos) {
                synchronized (exchange) {
                    if (exchange.running) {
                        LOG.warn("A backup download connection made no progress for {} s (KEEL_BACKUPS_DOWNLOAD_STALL); it is closed,"
                                + " freeing its thread for other downloads", stall.toSeconds());
                        exchange.progressAt = now; // one interrupt; the thread is on its way out
                        exchange.thread.interrupt();
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
