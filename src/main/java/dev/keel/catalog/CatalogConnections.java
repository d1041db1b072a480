package dev.keel.catalog;

import dev.keel.DaemonThreads;
import com.zaxxer.hikari.HikariDataSource;
import org.jooq.ConnectionProvider;
import org.jooq.ExecuteContext;
import org.jooq.ExecuteListener;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The catalog pool's connections as jOOQ borrows them, each with the thread it was lent to, and
 * the statements those threads have under way, so that the statements a catalog outage left
 * waiting can be ended once the catalog answers again.
 *
 * <p>A statement sent while the catalog's packets are dropped waits for TCP to retransmit it, and
 * the retransmissions back off: one in flight through a 15 s cut is next sent about 10 s after the
 * cut heals, and one through a longer outage waits out the pool's 30 s socket timeout. The thread
 * waiting on it (an HA monitor's round, say) is blind all that while. {@link #abortWaitingSince}
 * closes such connections' sockets (pgjdbc's {@code abort}, on a thread of its own, so that a lock
 * the waiting thread holds never holds up the caller): the statement fails as in an outage, and
 * the pool drops the connection as broken. A connection lent but idle between statements (a
 * transaction doing other work) is left alone.
 */
public final class CatalogConnections implements ConnectionProvider {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogConnections.class);

    private final HikariDataSource pool;
    /** The connections lent and not yet given back, with the thread each was lent to. */
    private final Map<Connection, Thread> lent = new ConcurrentHashMap<>();
    /** The statements under way, by the thread running each, with when ({@link System#nanoTime}) it began. */
    private final Map<Thread, Long> running = new ConcurrentHashMap<>();
    private final ExecutorService aborts = Executors.newCachedThreadPool(DaemonThreads.named("keel-catalog-abort"));

    CatalogConnections(HikariDataSource pool) {
        this.pool = pool;
    }

    @Override
    public Connection acquire() {
        try {
            Connection connection = pool.getConnection();
            lent.put(connection, Thread.currentThread());
            return connection;
        } catch (SQLException e) {
            throw new DataAccessException("cannot get a catalog connection: " + e.getMessage(), e);
        }
    }

    @Override
    public void release(Connection connection) {
        Thread owner = lent.remove(connection);
        if (owner != null && !lent.containsValue(owner)) {
            running.remove(owner); // a statement whose end jOOQ never told (a cursor left open) counts no longer
        }
        try {
            connection.close();
        } catch (SQLException e) {
            throw new DataAccessException("cannot give a catalog connection back: " + e.getMessage(), e);
        }
    }

    /** Times each statement jOOQ runs, from its execution to the end of its results. */
    ExecuteListener listener() {
        return new ExecuteListener() {
            @Override
            public void executeStart(ExecuteContext ctx) {
                running.putIfAbsent(Thread.currentThread(), System.nanoTime());
            }

            @Override
            public void end(ExecuteContext ctx) {
                running.remove(Thread.currentThread());
            }
        };
    }

    /**
     * Closes the socket of every lent connection whose thread has had a statement under way since
     * before {@code nanos} ({@link System#nanoTime}); says how many. Each waiting statement fails
     * within moments.
     */
    public int abortWaitingSince(long nanos) {
        int aborted = 0;
        for (Map.Entry<Connection, Thread> entry : lent.entrySet()) {
            Long began = running.get(entry.getValue());
            if (began != null && began - nanos < 0 && lent.remove(entry.getKey(), entry.getValue())) {
                try {
                    // The pool's proxy hands out its driver connection, whose abort closes the socket without the lock a
                    // waiting statement holds (close would wait for it).
                    entry.getKey().unwrap(Connection.class).abort(aborts);
                    aborted++;
                } catch (SQLException | RuntimeException e) {
                    LOG.warn("Could not close a catalog connection an outage left waiting: {}", e.toString());
                }
            }
        }
        return aborted;
    }
}
