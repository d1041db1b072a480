package dev.keel.lifecycle;

import dev.keel.RandomStrings;
import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerFiles;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.function.BiConsumer;

/**
 * The rows' way to the new server: a publication of every table on the old server, read by a role
 * that may read every row and stream, and a subscription on the new server that copies each table
 * and then applies every change as it commits. {@link #awaitApplied} waits until the new server
 * has applied the old one's WAL up to a position. {@link #remove} undoes all of it on both sides.
 */
@Singleton
final class LogicalCopy {
    private static final Logger LOG = LoggerFactory.getLogger(LogicalCopy.class);
    private static final Duration COPY_PATIENCE = Duration.ofHours(24);
    private static final long POLL_MILLIS = 50;

    private final InstanceConnections connections;

    LogicalCopy(InstanceConnections connections) {
        this.connections = connections;
    }

    /** The slot (on the old server) and role of a database's upgrade stream: Keel's names, out of tenants' reach. */
    static String name(UUID database) {
        return ROLE_PREFIX + database.toString().replace("-", "");
    }

    /** What every upgrade stream's name begins with. */
    static final String ROLE_PREFIX = "keel_upgrade_";

    void start(Database database, Instance old, Instance server) throws SQLException {
        String name = name(database.id());
        String password = RandomStrings.alphanumeric(32);
        try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
            UpgradeStreamSql.createStreamRole(connection, name, password, database.pgDatabase());
        }
        try (Connection connection = connections.open(old, database.pgDatabase()).pinnedConnection()) {
            UpgradeStreamSql.createPublication(connection);
        }
        String conninfo = "host=" + old.host() + " port=" + old.port() + " dbname=" + database.pgDatabase() + " user=" + name
                + " password=" + password + " sslmode=verify-full sslrootcert=" + ServerFiles.CA_CERT + " application_name=" + name;
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            UpgradeStreamSql.createSubscription(connection, conninfo, name);
        }
    }

    /** Waits until every table is copied and streaming; reports tables ready of all. */
    void awaitCopied(Database database, Instance server, BiConsumer<Long, Long> progress) throws SQLException, InterruptedException {
        Instant deadline = Instant.now().plus(COPY_PATIENCE);
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            while (true) {
                long[] tables = UpgradeStreamSql.tablesReady(connection);
                progress.accept(tables[0], tables[1]);
                if (tables[0] == tables[1]) {
                    return;
                }
                if (Instant.now().isAfter(deadline)) {
                    throw new KeelException(ProblemType.UNAVAILABLE, "The tables were not copied to the new server within "
                            + COPY_PATIENCE.toHours() + " hours.");
                }
                Thread.sleep(POLL_MILLIS * 4);
            }
        }
    }

    /** Fills the new server's materialized views (logical replication carries tables only), each as its owner. */
    void refreshViews(Database database, Instance server) throws SQLException {
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            for (Record view : UpgradeStreamSql.materializedViews(connection)) {
                UpgradeStreamSql.refreshAs(connection, view.get(0, String.class), view.get(1, String.class));
            }
        }
    }

    /** The old server's current WAL position. */
    Lsn position(Instance old) throws SQLException {
        try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
            return UpgradeStreamSql.currentLsn(connection);
        }
    }

    /** Waits until the new server has confirmed applying the old one's WAL up to {@code target}; false after {@code patience}. */
    boolean awaitApplied(Database database, Instance old, Lsn target, Duration patience) throws SQLException, InterruptedException {
        Instant deadline = Instant.now().plus(patience);
        try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
            while (Instant.now().isBefore(deadline)) {
                Lsn confirmed = UpgradeStreamSql.confirmed(connection, name(database.id()));
                if (confirmed != null && confirmed.compareTo(target) >= 0) {
                    return true;
                }
                Thread.sleep(POLL_MILLIS / 5);
            }
        }
        return false;
    }

    /** Bytes of WAL the new server has not confirmed yet. */
    long behind(Database database, Instance old) throws SQLException {
        try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
            Lsn confirmed = UpgradeStreamSql.confirmed(connection, name(database.id()));
            return confirmed == null ? Long.MAX_VALUE : UpgradeStreamSql.currentLsn(connection).bytesSince(confirmed);
        }
    }

    /** Ends the subscription on the new server (its tables stay). */
    void detach(Database database, Instance server) throws SQLException {
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            UpgradeStreamSql.dropSubscription(connection);
        }
    }

    /** Undoes the stream on whichever side still runs; the old server keeps no slot, publication or role of it. */
    void remove(Database database, Instance old, Instance server) {
        if (server != null) {
            try {
                detach(database, server);
            } catch (SQLException | RuntimeException e) {
                LOG.warn("Could not drop the upgrade's subscription on the new server of {}; it is discarded anyway", database.name(), e);
            }
        }
        try (Connection connection = connections.open(old, "postgres").pinnedConnection(); Connection onDatabase = connections.open(old, database.pgDatabase()).pinnedConnection()) {
            UpgradeStreamSql.dropPublishing(connection, onDatabase, name(database.id()), name(database.id()));
        } catch (SQLException | RuntimeException e) {
            LOG.error("Could not drop the upgrade's slot, publication and role on the old server of {}; drop slot {} by hand, or it"
                    + " keeps WAL", database.name(), name(database.id()), e);
        }
    }
}
