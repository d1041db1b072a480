package dev.keel.testing;

import dev.keel.postgres.PortRange;

import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Supplier;

/**
 * The writer of the failover scenarios (CloudNativePG's e2e measure): it inserts a numbered row
 * every 10 ms into {@code acked (n int primary key)} through the database's URL as a live node
 * tells it now, and logs each number once acknowledged, with when and on which host. A statement
 * not answered within a second fails (pgjdbc's socket timeout; closing the broken TLS session may
 * take as long again), and one that fails (its outcome unknown) is not retried: the next number
 * follows on a new connection.
 */
public final class FailoverWriter implements AutoCloseable {
    /** One acknowledged insert: when ({@link System#nanoTime}) and the host of the URL it went to. */
    public record Ack(long at, String host) {
    }

    private final Supplier<String> url;
    private final Path ca;
    private final NavigableMap<Integer, Ack> acked = new ConcurrentSkipListMap<>();
    /** What failed, by when ({@link System#nanoTime}): where a gap's time went. */
    private final NavigableMap<Long, String> failures = new ConcurrentSkipListMap<>();
    private final Thread thread;
    private volatile boolean stopped;

    private FailoverWriter(Supplier<String> url, Path ca) {
        this.url = url;
        this.ca = ca;
        this.thread = new Thread(this::run, "failover-writer");
        this.thread.setDaemon(true);
    }

    /** Creates the table through {@code url} and starts writing. {@code url} is asked again after each failure. */
    public static FailoverWriter start(Supplier<String> url, Path ca) throws SQLException {
        try (Connection connection = Pg.connect(url.get(), ca); Statement sql = connection.createStatement()) {
            sql.execute("create table if not exists acked (n int primary key, at timestamptz default clock_timestamp())");
        }
        FailoverWriter writer = new FailoverWriter(url, ca);
        writer.thread.start();
        return writer;
    }

    private void run() {
        int next = 1;
        Connection connection = null;
        String host = null;
        while (!stopped) {
            try {
                if (connection == null) {
                    String now = url.get();
                    URI where = URI.create(now);
                    host = where.getHost();
                    // As a client that wants its writes back soon: a host that does not answer at once is given up on in 100 ms
                    // and the URL asked again (pgjdbc's own connect timeout is whole seconds).
                    if (!PortRange.accepting(where.getHost(), where.getPort(), Duration.ofMillis(100))) {
                        failures.put(System.nanoTime(), host + " does not accept a connection");
                        Thread.sleep(50);
                        continue;
                    }
                    connection = Pg.connect(now, ca, 1, 1);
                }
                int n = next++;
                try (Statement sql = connection.createStatement()) {
                    sql.execute("insert into acked (n) values (" + n + ")");
                }
                acked.put(n, new Ack(System.nanoTime(), host));
                Thread.sleep(10);
            } catch (InterruptedException e) {
                return;
            } catch (SQLException | RuntimeException e) {
                failures.put(System.nanoTime(), host + ": " + e.getMessage());
                if (connection != null) {
                    try {
                        connection.close();
                    } catch (SQLException ignored) {
                        // it failed already
                    }
                }
                connection = null;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
    }

    /** What failed from {@code from} to {@code to} ({@link System#nanoTime}), each with its ms after {@code from}. */
    public List<String> failures(long from, long to) {
        return failures.subMap(from, to).entrySet().stream().map(e -> (e.getKey() - from) / 1_000_000 + " ms: " + e.getValue()).toList();
    }

    /** The numbers acknowledged so far. */
    public NavigableMap<Integer, Ack> acked() {
        return acked;
    }

    /** Waits until a number is acknowledged on {@code host} after {@code since} ({@link System#nanoTime}), and returns it. */
    public Map.Entry<Integer, Ack> awaitAckOn(String host, long since, Duration timeout) {
        return Wait.until("a write acknowledged on " + host, timeout, () -> acked.descendingMap().entrySet().stream()
                .takeWhile(e -> e.getValue().at() > since).filter(e -> e.getValue().host().equals(host)).reduce((later, earlier) -> earlier));
    }

    /**
     * The gap around a fault at {@code fault}: from the last number acknowledged before it to the
     * first acknowledged on {@code host} after it.
     */
    public Duration gap(long fault, String host) {
        long before = acked.values().stream().mapToLong(Ack::at).filter(at -> at <= fault).max().orElse(fault);
        long after = acked.values().stream().filter(a -> a.at() > fault && a.host().equals(host)).mapToLong(Ack::at).min()
                .orElseThrow(() -> new AssertionError("no write acknowledged on " + host + " after the fault"));
        return Duration.ofNanos(after - before);
    }

    /** The rows a server holds, read once. */
    public interface Rows {
        Set<Integer> read() throws SQLException;
    }

    /**
     * The numbers acknowledged before {@code rows} is read that it lacks, each with its
     * acknowledgement and its neighbours' (the writer goes on meanwhile: what it acknowledges after
     * the read began is not counted).
     */
    public Map<Integer, String> lostFrom(Rows rows) throws SQLException {
        List<Integer> acknowledged = new ArrayList<>(acked.keySet());
        Set<Integer> present = rows.read();
        Map<Integer, String> lost = new TreeMap<>();
        for (Integer n : acknowledged) {
            if (!present.contains(n)) {
                lost.put(n, acked.get(n) + " (before: " + acked.lowerEntry(n) + ", after: " + acked.higherEntry(n) + ")");
            }
        }
        return lost;
    }

    @Override
    public void close() throws InterruptedException {
        stopped = true;
        thread.interrupt();
        thread.join(10_000);
    }
}
