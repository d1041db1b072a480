package dev.keel.catalog;

import dev.keel.StartupException;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;

/**
 * Makes this Keel the only node working on its catalog, by holding a session advisory lock on a
 * connection of its own for as long as it runs. The reconciler, the orphan sweep and the
 * per-database operation locks assume one node; until nodes coordinate, a second one is refused
 * rather than let loose. A node that dies releases the lock with its connection; a start waits a
 * little for a killed predecessor's session to end.
 */
@Singleton
public final class NodeLock {
    private final CatalogLocation location;
    private final Duration patience;
    private Connection session;

    NodeLock(CatalogLocation location, @Value("${keel.catalog.node-lock-wait:20s}") Duration patience) {
        this.location = location;
        this.patience = patience;
    }

    public synchronized void acquire() {
        Instant deadline = Instant.now().plus(patience);
        try {
            session = DriverManager.getConnection(location.jdbcUrl(), location.user(), location.password());
            while (!AdvisoryLock.NODE.tryHoldForSession(DSL.using(session, SQLDialect.POSTGRES))) {
                if (Instant.now().isAfter(deadline)) {
                    release();
                    throw new StartupException("another Keel node is running on this catalog (" + location + "); Keel does not yet"
                            + " share a catalog between nodes, so stop the other one first.");
                }
                Thread.sleep(250);
            }
        } catch (SQLException e) {
            throw new StartupException("cannot reach the catalog (" + location + "): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StartupException("interrupted while waiting for the catalog's node lock", e);
        }
    }

    @PreDestroy
    public synchronized void release() {
        if (session != null) {
            try {
                session.close();
            } catch (SQLException ignored) {
                // closing the session is what releases the lock; a broken one is released by the server
            }
            session = null;
        }
    }
}
