package dev.keel.postgres;

import io.micronaut.core.annotation.Nullable;
import org.postgresql.PGConnection;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;

import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
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
        /** An XLogData message's header before its WAL: 'w', the WAL's start, the server's end of WAL, its send time. */
        private static final int XLOG_DATA_HEADER = 1 + 8 + 8 + 8;
        /** Where the server's clock starts (2000-01-01 UTC): its send times are microseconds since. */
        private static final Instant SERVER_EPOCH = Instant.parse("2000-01-01T00:00:00Z");
        private final PGReplicationStream stream;
        @Nullable
        private Lsn serverEnd;
        @Nullable
        private Instant serverSentAt;

        private PhysicalStream(PGReplicationStream stream) {
            this.stream = stream;
        }

        /**
         * The next chunk of WAL if one has arrived, without waiting; else null. It ends at
         * {@link #receivedThrough()} and is valid only until the next call. Also sends a status
         * to the server when one is due.
         */
        public ByteBuffer readPending() throws SQLException {
            ByteBuffer chunk = stream.readPending();
            if (chunk != null) {
                serverEnd = walEnd(chunk);
                serverSentAt = serverEnd == null ? null : sentAt(chunk);
            }
            return chunk;
        }

        /**
         * When the server sent the last chunk, by its own clock (the XLogData message's send time),
         * or null when it is not known. The chunk may have waited in the connection since; the
         * server's clock may differ from this host's.
         */
        @Nullable
        public Instant serverSentAt() {
            return serverSentAt;
        }

        /**
         * The server's end of WAL when it sent the last chunk (the XLogData message's walEnd: on a
         * primary, what it had flushed as it built the message), or null when it is not known. A
         * chunk that ends before it is part of a backlog: the server had more then.
         */
        @Nullable
        public Lsn serverEnd() {
            return serverEnd;
        }

        /** The send time in the header of the message {@code chunk} came in, once {@link #walEnd} has vouched for that header. */
        private static Instant sentAt(ByteBuffer chunk) {
            long micros = ByteBuffer.wrap(chunk.array(), chunk.arrayOffset() + chunk.position() - 8, 8).getLong();
            return SERVER_EPOCH.plus(micros, ChronoUnit.MICROS);
        }

        /**
         * The walEnd of the message {@code chunk} came in. pgjdbc reads it but keeps it private
         * ({@code lastServerLSN}, with no getter); the chunk it returns is a slice of the whole message
         * (its array and offset are ByteBuffer's public view), so the header is read there, and
         * trusted only if it is an XLogData header whose start is this chunk's: a pgjdbc that hands
         * out WAL another way gives null (not known), never a position of something else. Keel
         * streams only a primary's current timeline, so walEnd is never a timeline's switch point.
         */
        @Nullable
        private Lsn walEnd(ByteBuffer chunk) {
            int header = chunk.hasArray() ? chunk.arrayOffset() + chunk.position() - XLOG_DATA_HEADER : -1;
            if (header < 0) {
                return null;
            }
            ByteBuffer message = ByteBuffer.wrap(chunk.array(), header, XLOG_DATA_HEADER);
            byte kind = message.get();
            long start = message.getLong();
            long end = message.getLong();
            long received = stream.getLastReceiveLSN().asLong();
            if (kind != 'w' || start != received - chunk.remaining() || Long.compareUnsigned(end, received) < 0) {
                return null;
            }
            return new Lsn(end);
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
