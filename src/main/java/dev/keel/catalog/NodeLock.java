package dev.keel.catalog;

import dev.keel.StartupException;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Optional;

import static dev.keel.catalog.schema.Tables.NODES;

/**
 * Holds, on a connection of its own for as long as this Keel runs, session advisory locks on the
 * catalog: its node name's, so two live nodes never share a name, and the node lock, alone on an
 * embedded catalog (it is one node's, and vanishes with its data directory) and shared on an
 * external one, where nodes coordinate through per-database leases and hand host-bound work to
 * the node that hosts it. A refusal names the running node from the registry. A node that dies
 * releases its locks with its connection; a start waits a little for a killed predecessor's
 * session to end.
 */
@Singleton
public final class NodeLock {
    public static final String JOIN_EMBEDDED = "its catalog is embedded in that node's data directory and cannot be joined: to run several"
            + " nodes, configure KEEL_CATALOG_URL to an external Postgres, and KEEL_S3_* and KEEL_SECRET_KEY, on every node";

    private final CatalogLocation location;
    private final Duration patience;
    private Connection session;

    NodeLock(CatalogLocation location, @Value("${keel.catalog.node-lock-wait:20s}") Duration patience) {
        this.location = location;
        this.patience = patience;
    }

    /** Takes the locks for node {@code nodeName}, or refuses the start saying which node holds them. */
    public synchronized void acquire(String nodeName) {
        Instant deadline = Instant.now().plus(patience);
        try {
            session = DriverManager.getConnection(location.jdbcUrl(), location.user(), location.password());
            DSLContext sql = DSL.using(session, SQLDialect.POSTGRES);
            while (!AdvisoryLock.tryHoldNodeNameForSession(sql, nodeName)) {
                if (Instant.now().isAfter(deadline)) {
                    String heartbeat = node(sql, nodeName).map(n -> ", its last heartbeat " + n.age() + " s ago").orElse("");
                    release();
                    throw new StartupException("a Keel node named " + nodeName + " is already running on this catalog (" + location + ")"
                            + heartbeat + "; give this node its own KEEL_NODE_NAME, or stop the other one first.");
                }
                Thread.sleep(250);
            }
            while (!(location.embedded() ? AdvisoryLock.NODE.tryHoldForSession(sql) : AdvisoryLock.NODE.tryShareForSession(sql))) {
                if (Instant.now().isAfter(deadline)) {
                    String refusal = refusal(sql, nodeName);
                    release();
                    throw new StartupException(refusal);
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

    private String refusal(DSLContext sql, String nodeName) {
        Optional<Running> running = newestOther(sql, nodeName);
        String other = running.map(n -> ": node " + n.name() + (n.apiUrl() == null ? "" : " at " + n.apiUrl()) + ", its last heartbeat "
                + n.age() + " s ago").orElse("");
        String why = running.filter(Running::embeddedCatalog).isPresent() ? "; " + JOIN_EMBEDDED + "."
                : "; this node's catalog is embedded in its data directory, and a node on an embedded catalog runs alone: stop the other"
                + " one first, or give this node the same external KEEL_CATALOG_URL as the others.";
        return "another Keel node is running on this catalog (" + location + ")" + other + why;
    }

    /**
     * A node's row as a refusal names it; {@code age} in whole seconds of the catalog's clock, never below zero: {@code now} is read
     * a statement before the row, and a heartbeat written between them is younger than it.
     */
    private record Running(String name, String apiUrl, boolean embeddedCatalog, long age) {
        static Running of(Record r, OffsetDateTime now) {
            return new Running(r.get(NODES.NAME), r.get(NODES.API_URL), r.get(NODES.EMBEDDED_CATALOG),
                    Math.max(0, Duration.between(r.get(NODES.HEARTBEAT_AT), now).toSeconds()));
        }
    }

    private static Optional<Running> node(DSLContext sql, String name) {
        return read(sql, NODES.NAME.eq(name));
    }

    private static Optional<Running> newestOther(DSLContext sql, String name) {
        return read(sql, NODES.NAME.ne(name));
    }

    /** The node with the newest heartbeat matching {@code which}; empty also when the registry cannot be read (an older catalog). */
    private static Optional<Running> read(DSLContext sql, Condition which) {
        try {
            OffsetDateTime now = sql.fetchValue(DSL.currentOffsetDateTime());
            return sql.selectFrom(NODES).where(which).orderBy(NODES.HEARTBEAT_AT.desc()).limit(1).fetchOptional()
                    .map(r -> Running.of(r, now));
        } catch (DataAccessException e) {
            return Optional.empty();
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
