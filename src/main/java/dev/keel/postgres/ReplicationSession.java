package dev.keel.postgres;

import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.nio.ByteBuffer;
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
     * a status to the server at least every {@code statusMillis}. The flush position it sends is
     * only ever what {@link PhysicalStream#flushed} said: pgjdbc's automatic flush would answer a
     * keepalive with the server's send position, WAL that may still be only in memory here.
     */
    public PhysicalStream startPhysical(String slot, Lsn from, long statusMillis) throws SQLException {
        return new PhysicalStream(connection.unwrap(PGConnection.class).getReplicationAPI().replicationStream().physical()
                .withSlotName(slot)
                .withAutomaticFlush(false)
                .withStartPosition(LogSequenceNumber.valueOf(from.value()))
                .withStatusInterval(Math.toIntExact(statusMillis), TimeUnit.MILLISECONDS)
                .start());
    }

    /**
     * A physical WAL stream, in Keel's types: pgjdbc's {@code PGReplicationStream} stays in this
     * class. Used by one thread; it ends when its session closes.
     */
    public static final class PhysicalStream {
        private final PGReplicationStream stream;

        private PhysicalStream(PGReplicationStream stream) {
            this.stream = stream;
        }

        /**
         * The next chunk of WAL if one has arrived, without waiting; else null. It ends at
         * {@link #receivedThrough()} and is valid only until the next call. Also sends a status
         * to the server when one is due.
         */
        public ByteBuffer readPending() throws SQLException {
            return stream.readPending();
        }

        /** The end of the last chunk received. */
        public Lsn receivedThrough() {
            return new Lsn(stream.getLastReceiveLSN().asLong());
        }

        /**
         * Tells the server, with the next status, that WAL through {@code through} is flushed and
         * applied (in Keel: in the object store), so its slot may let it go. Call it only for WAL
         * that is durable: the server may remove it at once.
         */
        public void flushed(Lsn through) {
            LogSequenceNumber lsn = LogSequenceNumber.valueOf(through.value());
            stream.setFlushedLSN(lsn);
            stream.setAppliedLSN(lsn);
        }

        /** Sends the status now, not with the next one due: a commit that waits for this stream ({@code synchronous_standby_names}) goes on at once. */
        public void sendStatus() throws SQLException {
            stream.forceUpdateStatus();
        }
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
