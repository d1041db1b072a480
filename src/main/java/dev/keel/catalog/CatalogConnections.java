package dev.keel.catalog;

import com.zaxxer.hikari.HikariDataSource;
import org.jooq.ConnectionProvider;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The catalog pool's connections as jOOQ borrows them, each with when it was lent, so that those
 * a catalog outage left waiting can be closed once the catalog answers again.
 *
 * <p>A statement sent while the catalog's packets are dropped waits for TCP to retransmit it, and
 * the retransmissions back off: one in flight through a 15 s cut is next sent about 10 s after the
 * cut heals, and one through a longer outage waits out the pool's 30 s socket timeout. The thread
 * waiting on it (an HA monitor's round, say) is blind all that while. {@link #abortLentBefore}
 * closes such connections' sockets at once (pgjdbc's {@code abort}, which takes no lock the
 * waiting thread holds): the waiting statement fails as in an outage, and the pool drops the
 * connection as broken.
 */
public final class CatalogConnections implements ConnectionProvider {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogConnections.class);

    private final HikariDataSource pool;
    /** The connections lent and not yet given back, with when ({@link System#nanoTime}) each was lent. */
    private final Map<Connection, Long> lent = new ConcurrentHashMap<>();

    CatalogConnections(HikariDataSource pool) {
        this.pool = pool;
    }

    @Override
    public Connection acquire() {
        try {
            Connection connection = pool.getConnection();
            lent.put(connection, System.nanoTime());
            return connection;
        } catch (SQLException e) {
            throw new DataAccessException("cannot get a catalog connection: " + e.getMessage(), e);
        }
    }

    @Override
    public void release(Connection connection) {
        lent.remove(connection);
        try {
            connection.close();
        } catch (SQLException e) {
            throw new DataAccessException("cannot give a catalog connection back: " + e.getMessage(), e);
        }
    }

    /**
     * Closes the socket of every connection lent before {@code nanos} ({@link System#nanoTime}) and
     * not given back since; says how many. Its statement, if one waits, fails at once.
     */
    public int abortLentBefore(long nanos) {
        int aborted = 0;
        for (Map.Entry<Connection, Long> entry : lent.entrySet()) {
            if (entry.getValue() - nanos < 0 && lent.remove(entry.getKey(), entry.getValue())) {
                try {
                    // The pool's proxy hands out its driver connection; abort closes the socket without the lock a waiting
                    // statement holds (close would wait for it).
                    entry.getKey().unwrap(Connection.class).abort(Runnable::run);
                    aborted++;
                } catch (SQLException | RuntimeException e) {
                    LOG.warn("Could not close a catalog connection lent before the catalog was lost: {}", e.toString());
                }
            }
        }
        return aborted;
    }
}
