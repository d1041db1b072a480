package dev.keel.dumps;

import dev.keel.jobs.Loops;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * Ends the exchanges of the download server ({@link DumpDownloadServer}) of clients too slow to
 * hold one of its few threads. The JDK's HTTPS server has no socket timeouts and writes on a
 * blocking channel, so a client that stops reading, or reads a trickle, would hold a thread for
 * as long as it likes; the watch interrupts that thread instead, which closes the connection (its
 * channel is interruptible) and frees the thread. Two rules, checked on the dumps' watchdog
 * thread ({@link Watchdogs}):
 * <ul>
 * <li>until a download begins ({@link #answering}), the exchange must be over within
 * {@code requestWithin} of its start: the TLS handshake, the request, and a refusal with the
 * request body the JDK drains when it closes the exchange (up to 64 KB a client may trickle); a
 * fixed deadline that progress does not extend, so that half-open connections and clients
 * without a link free their threads soon;</li>
 * <li>once a download began, the response must move some bytes (a {@link #SLICE}) at least every
 * {@code window}, and must have moved, at any time, at least {@code minRate} bytes a second since it began, one
 * {@code window} of grace aside; bytes count as moved per slice the client took, so a client that
 * stops reading, or reads a trickle, is cut, and a download that keeps above the rate finishes
 * however long it takes.</li>
 * </ul>
 * The average is taken since the response began, not per window, because the kernel's socket
 * buffers (megabytes) let a blocked write go on only once a third of them drained: what a steady
 * client takes reaches the server in bursts, which a per-window count would mistake for a trickle.
 *
 * <p>A download also ends once the API key that made its link is revoked: each turn the watch has the key asked about
 * ({@link #answering}'s {@code allowed}) on {@code asker}, not on its own thread, which must never wait (here on the
 * catalog); so a download ends whether its client reads on or stopped reading. {@code asker} is an executor of its own,
 * not the exchanges' pool, so that no queue of exchanges delays an ask; an ask it refuses is made again the next turn.
 */
final class DownloadStallWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DownloadStallWatch.class);
    /** The most written at once: bytes count as moved once the client took the slice they are in. */
    static final int SLICE = 16 * 1024;

    private final Duration requestWithin;
    private final Duration window;
    private final long minRate;
    private final Executor asker;
    private final Map<Thread, Exchange> running = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> checks;

    /** {@code minRate} in bytes a second; {@code asker} runs the asks whether a download's key is still active. */
    DownloadStallWatch(Duration requestWithin, Duration window, long minRate, Executor asker) {
        this.asker = asker;
        this.requestWithin = requestWithin;
        this.window = window;
        this.minRate = minRate;
        Duration shorter = requestWithin.compareTo(window) < 0 ? requestWithin : window;
        this.checks = Watchdogs.every(shorter.dividedBy(5), this::endSlow);
    }

    /** One exchange on its thread: since when, whether its request was answered, what it moved; {@code running} guarded by itself. */
    private static final class Exchange {
        private final Thread thread;
        private final long startedAt = System.nanoTime();
        private volatile boolean answering;
        private volatile long answeringAt;
        private volatile long moved;
        private volatile long movedAt;
        private volatile BooleanSupplier allowed;
        private final AtomicBoolean asking = new AtomicBoolean();
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

    /**
     * Marks that the exchange on this thread begins a download (its link checked and a place taken): the response's rate is
     * watched from now on instead of the request deadline, and {@code allowed} (whether the link's API key is still active;
     * it may wait on the catalog) asked each turn, the download ended once it says no. Called only then, so that every
     * refusal ends within that deadline.
     */
    void answering(BooleanSupplier allowed) {
        Exchange exchange = running.get(Thread.currentThread());
        if (exchange != null) {
            exchange.answeringAt = System.nanoTime();
            exchange.movedAt = exchange.answeringAt;
            exchange.allowed = allowed;
            exchange.answering = true;
        }
    }

    /** {@code out}, written a {@link #SLICE} at a time, each slice the client took counted as moved. */
    OutputStream watched(OutputStream out) {
        Exchange exchange = running.get(Thread.currentThread());
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] bytes, int offset, int length) throws IOException {
                for (int done = 0; done < length; done += SLICE) {
                    int slice = Math.min(SLICE, length - done);
                    out.write(bytes, offset + done, slice);
                    if (exchange != null) {
                        exchange.moved += slice; // only this thread writes it
                        exchange.movedAt = System.nanoTime();
                    }
                }
            }
        };
    }

    private void endSlow() {
        long now = System.nanoTime();
        for (Exchange exchange : running.values()) {
            if (!exchange.answering) {
                if (now - exchange.startedAt > requestWithin.toNanos()) {
                    end(exchange, "A backup download connection did not finish its TLS handshake and request within {} s"
                            + " (KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN); it is closed, freeing its thread for other downloads",
                            requestWithin.toSeconds());
                }
            } else {
                askAllowed(exchange);
                long moved = exchange.moved;
                long beyondGrace = now - exchange.answeringAt - window.toNanos();
                if (beyondGrace > 0 && moved < minRate * (beyondGrace / 1_000_000) / 1000) {
                    end(exchange, "A backup download moved {} bytes in {} s, less than KEEL_BACKUPS_DOWNLOAD_MIN_RATE ({} B/s) asks after"
                            + " a KEEL_BACKUPS_DOWNLOAD_STALL of grace; it is closed, freeing its thread for other downloads",
                            moved, (now - exchange.answeringAt) / 1_000_000_000L, minRate);
                } else if (now - exchange.movedAt > window.toNanos()) {
                    end(exchange, "A backup download moved no byte for {} s (KEEL_BACKUPS_DOWNLOAD_STALL); it is closed, freeing its"
                            + " thread for other downloads", window.toSeconds());
                }
            }
        }
    }

    /** Has {@code asker} ask whether the download may go on, and end it when not; one ask at a time per download. */
    private void askAllowed(Exchange exchange) {
        BooleanSupplier allowed = exchange.allowed;
        if (allowed == null || !exchange.asking.compareAndSet(false, true)) {
            return;
        }
        try {
            asker.execute(() -> {
                try {
                    Loops.round("A backup download's API key check", () -> {
                        if (!allowed.getAsBoolean()) {
                            end(exchange, "The API key that made a backup download's link was revoked; the download is closed");
                        }
                    });
                } finally {
                    exchange.asking.set(false);
                }
            });
        } catch (RejectedExecutionException refused) {
            exchange.asking.set(false); // the askers are busy (asked again next turn), or the server is stopping
        }
    }

    private void end(Exchange exchange, String message, Object... values) {
        synchronized (exchange) {
            if (exchange.running) {
                LOG.warn(message, values);
                exchange.running = false; // one interrupt; the thread is on its way out
                exchange.thread.interrupt();
            }
        }
    }

    @Override
    public void close() {
        checks.cancel(false);
    }
}
