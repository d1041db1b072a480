package dev.keel.testing;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * A client that keeps inserting numbered rows ({@code insert into numbered (n) values (...)}) one
 * transaction each, through whatever URL {@code url} gives when it (re)connects, and remembers
 * which numbers the server acknowledged. A row whose commit was cut off is not counted, and its
 * number is not used again.
 */
public final class NumberedWriter {
    private static final long RECONNECT_MILLIS = 20;

    private final List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    private NumberedWriter(TestKeel keel, Supplier<String> url, boolean pooled) {
        this.thread = new Thread(() -> {
            long n = 0;
            while (running.get()) {
                try (Connection connection = pooled ? Pg.connectPooled(url.get(), keel.caFile()) : Pg.connect(url.get(), keel.caFile());
                     Statement sql = connection.createStatement()) {
                    while (running.get()) {
                        n++;
                        sql.execute("insert into numbered (n) values (" + n + ")");
                        acknowledged.add(n);
                    }
                } catch (SQLException | RuntimeException e) {
                    try {
                        Thread.sleep(RECONNECT_MILLIS);
                    } catch (InterruptedException interrupted) {
                        return;
                    }
                }
            }
        }, "numbered-writer");
        thread.start();
    }

    /** Starts writing through the URL {@code url} gives at each connection; {@code pooled} for a pooler's URL. */
    public static NumberedWriter start(TestKeel keel, Supplier<String> url, boolean pooled) {
        return new NumberedWriter(keel, url, pooled);
    }

    /** Waits until {@code more} rows more than now are acknowledged. */
    public void awaitMore(int more) {
        int target = acknowledged.size() + more;
        Wait.until(more + " more acknowledged rows", Timeouts.UPGRADE, () -> acknowledged.size() >= target);
    }

    /** Stops and returns the acknowledged numbers. */
    public List<Long> stop() throws InterruptedException {
        running.set(false);
        thread.join(Timeouts.REQUEST.toMillis());
        synchronized (acknowledged) {
            return List.copyOf(acknowledged);
        }
    }
}
