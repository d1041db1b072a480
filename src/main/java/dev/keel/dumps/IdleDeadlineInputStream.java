package dev.keel.dumps;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;

/**
 * A stream whose read fails once it has waited {@code idle} for a byte: a server that stops
 * sending must not hold the reading thread for good (a restore URL's body, read by
 * {@link DumpUrls} from its own socket). A read that waits too long is interrupted and the stream
 * closed, which ends a read blocked on the socket; the interrupt never outlives the read. Checked on the dumps' one watchdog
 * thread ({@link Watchdogs}).
 */
final class IdleDeadlineInputStream extends FilterInputStream {
    private final Duration idle;
    private final ScheduledFuture<?> watch;
    /** The thread in a read, and since when (System.nanoTime); guarded by this. */
    private Thread reading;
    private long since;
    private boolean expired;

    IdleDeadlineInputStream(InputStream in, Duration idle) {
        super(in);
        this.idle = idle;
        this.watch = Watchdogs.every(idle.dividedBy(4), this::check);
    }

    private void check() {
        synchronized (this) {
            if (reading == null || expired || System.nanoTime() - since <= idle.toNanos()) {
                return;
            }
            expired = true;
            reading.interrupt();
        }
        try {
            in.close();
        } catch (IOException | RuntimeException e) {
            // the read fails either way
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        synchronized (this) {
            if (expired) {
                throw timedOut(null);
            }
            reading = Thread.currentThread();
            since = System.nanoTime();
        }
        int n;
        try {
            n = in.read(b, off, len);
        } catch (IOException e) {
            synchronized (this) {
                if (expired) {
                    throw timedOut(e);
                }
            }
            throw e;
        } finally {
            synchronized (this) {
                reading = null;
                if (expired) {
                    Thread.interrupted(); // the watch's interrupt ends with the read it was for
                }
            }
        }
        synchronized (this) {
            if (expired) {
                throw timedOut(null);
            }
        }
        return n;
    }

    private Stalled timedOut(IOException cause) {
        return new Stalled("no data came for " + idle.toSeconds() + " s; the server stopped sending", cause);
    }

    /** A read that waited past the idle time. */
    static final class Stalled extends IOException {
        Stalled(String message, IOException cause) {
            super(message, cause);
        }
    }

    @Override
    public void close() throws IOException {
        watch.cancel(false);
        super.close();
    }
}
