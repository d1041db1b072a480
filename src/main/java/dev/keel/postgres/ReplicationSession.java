package dev.keel.postgres;

import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

/**
 * A physical replication connection to a managed server as Keel's superuser (opened only by
 * {@code instances.InstanceConnections.openReplication}, over the same verified TLS, with the same
 * pinned settings): the replication commands Keel sends, and the stream they start.
 */
public final class ReplicationSession implements AutoCloseable {
    private final Connection connection;

    /** Wraps a connection opened with {@code replication=true} and the pinned settings. */
    public ReplicationSession(Connection connection) {
        this.connection = connection;
    }

    /** What IDENTIFY_SYSTEM says: the cluster's system identifier, its current timeline and flush position. */
    public record Identity(long systemIdentifier, TimelineId timeline, Lsn flushed) {
    }

    public Identity identify() throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet row = statement.executeQuery("IDENTIFY_SYSTEM")) {
            if (!row.next()) {
                throw new SQLException("IDENTIFY_SYSTEM answered no row", "02000");
            }
            return new Identity(Long.parseUnsignedLong(row.getString(1)), new TimelineId(row.getInt(2)), Lsn.parse(row.getString(3)));
        }
    }

    /**
     * Streams WAL from {@code from} (a segment's start) through physical slot {@code slot}, sending
     * a status to the server at least every {@code statusMillis}.
     */
    public PGReplicationStream startPhysical(String slot, Lsn from, long statusMillis) throws SQLException {
        return connection.unwrap(PGConnection.class).getReplicationAPI().replicationStream().physical()
                .withSlotName(slot)
                .withStartPosition(LogSequenceNumber.valueOf(from.value()))
                .withStatusInterval(Math.toIntExact(statusMillis), TimeUnit.MILLISECONDS)
                .start();
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
