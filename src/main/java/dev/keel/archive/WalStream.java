package dev.keel.archive;

import dev.keel.Fatal;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ReplicationSession;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.StorageException;
import io.micronaut.core.annotation.Nullable;
import org.postgresql.replication.LogSequenceNumber;
import org.postgresql.replication.PGReplicationStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * One primary's WAL, received over the replication protocol through the physical slot
 * {@link WalReceivers#SLOT} and put in the object store: the segment being filled as a partial
 * object at least every {@code uploadMillis} while it grows, the completed segment through
 * {@link WalFiles} like an archived one. Only then does it tell the server it has flushed that
 * far, so the slot keeps whatever is not in the store; after a crash, a kill or a store outage it
 * starts again at the start of the segment that holds the slot's restart point.
 */
final class WalStream implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(WalStream.class);
    private static final int SEGMENT = Math.toIntExact(WalSegmentName.SEGMENT_BYTES);
    private static final int FIRST_BUFFER = 1 << 20;
    private static final long POLL_MILLIS = 5;
    private static final long STATUS_MILLIS = 1000;
    private static final int SOCKET_SECONDS = 30;
    private static final long RETRY_MILLIS = 1000;
    private static final long FOLLOWER_RETRY_MILLIS = 10_000;

    private final Instance instance;
    private final UUID database;
    private final InstanceConnections connections;
    private final ObjectStore store;
    private final WalFiles files;
    private final ArchiveRepository archive;
    private final long uploadMillis;
    private final Thread thread;
    private volatile boolean running = true;

    private byte[] buffer = new byte[FIRST_BUFFER];
    private WalSegmentName segment;
    private int filled;
    private long systemIdentifier;
    private boolean failing;

    // What reports read: where the stream is, and since when WAL beyond what is stored exists.
    private volatile boolean connected;
    @Nullable
    private volatile Lsn received;
    @Nullable
    private volatile Lsn stored;
    @Nullable
    private volatile Instant unstoredSince;
    @Nullable
    private volatile Instant storedAt;
    @Nullable
    private volatile String problem;

    WalStream(Instance instance, InstanceConnections connections, ObjectStore store, WalFiles files, ArchiveRepository archive,
              long uploadMillis) {
        this.instance = instance;
        this.database = instance.databaseId();
        this.connections = connections;
        this.store = store;
        this.files = files;
        this.archive = archive;
        this.uploadMillis = uploadMillis;
        this.thread = new Thread(this, "keel-wal-receive-" + instance.id());
        thread.setDaemon(true);
    }

    Instance instance() {
        return instance;
    }

    void start() {
        thread.start();
    }

    /** Stops receiving and waits (a while) for the thread: nothing is stored for this instance afterwards. */
    void stop() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join(30_000);
    }

    /** How the stream goes, for {@code /archive} and the metrics. */
    record Status(boolean connected, @Nullable Lsn received, @Nullable Lsn stored, @Nullable Instant unstoredSince,
                  @Nullable Instant storedAt, @Nullable String problem) {
    }

    Status status() {
        return new Status(connected, received, stored, unstoredSince, storedAt, problem);
    }

    /**
     * The server was seen at {@code at} with WAL flushed through {@code flushed}: if that is past
     * what is stored, the oldest WAL not in the store is at least that old.
     */
    void serverSeen(Lsn flushed, Instant at) {
        Lsn through = stored;
        if (through != null && flushed.isAfter(through) && unstoredSince == null) {
            unstoredSince = at;
        }
    }

    @Override
    public void run() {
        while (running) {
            long pause = RETRY_MILLIS;
            try {
                pause = receive() ? RETRY_MILLIS : FOLLOWER_RETRY_MILLIS;
            } catch (InterruptedException e) {
                return;
            } catch (Throwable e) {
                Fatal.haltIfFatal(e);
                connected = false;
                problem = running ? describe(e) : null;
                if (running) {
                    LOG.warn("Receiving WAL from instance {} stopped: {}; starting again from its slot", instance.id(), problem);
                }
                storeQuietly();
            }
            connected = false;
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Streams until stopped or failed; false when the server is in recovery (a follower's), which has no WAL of its own to stream. */
    private boolean receive() throws SQLException, InterruptedException {
        Lsn restart;
        try (ServerSession session = connections.open(instance, "postgres")) {
            if (session.inRecovery()) {
                problem = "the server is in recovery: it archives nothing of its own until it is promoted";
                return false;
            }
            session.ensurePhysicalSlot(WalReceivers.SLOT);
            ServerSession.Slot slot = session.slot(WalReceivers.SLOT).orElseThrow();
            if ("lost".equals(slot.walStatus()) || slot.restart() == null) {
                // The server dropped WAL the slot needed (max_slot_wal_keep_size): archive_command delivered it; start anew.
                LOG.warn("The WAL receiver's slot on instance {} lost its WAL; making it again (archive_command covers the gap)",
                        instance.id());
                session.dropSlot(WalReceivers.SLOT);
                session.ensurePhysicalSlot(WalReceivers.SLOT);
                slot = session.slot(WalReceivers.SLOT).orElseThrow();
            }
            restart = slot.restart();
        }
        try (ReplicationSession replication = connections.openReplication(instance, SOCKET_SECONDS)) {
            ReplicationSession.Identity identity = replication.identify();
            systemIdentifier = identity.systemIdentifier();
            archive.systemOf(database, identity.timeline().value(), systemIdentifier);
            segment = WalSegmentName.containing(identity.timeline(), restart);
            filled = 0;
            buffer = new byte[FIRST_BUFFER];
            // What an earlier stream stored of this segment is not stored again, only what comes after it.
            WalSegmentName resumed = segment;
            stored = archive.streamed(database).filter(p -> p.segment().equals(resumed)).map(StreamedWal::end)
                    .orElse(segment.startLsn());
            received = segment.startLsn();
            PGReplicationStream stream = replication.startPhysical(WalReceivers.SLOT, segment.startLsn(), STATUS_MILLIS);
            connected = true;
            problem = null;
            LOG.info("Receiving WAL from instance {} from {} on", instance.id(), segment);
            while (running) {
                ByteBuffer chunk = stream.readPending();
                if (chunk == null) {
                    storeIfDue(stream, false);
                    Thread.sleep(POLL_MILLIS);
                    continue;
                }
                int length = chunk.remaining();
                long start = stream.getLastReceiveLSN().asLong() - length;
                accept(chunk, start, length, stream);
                storeIfDue(stream, false);
            }
            storeQuietly();
            return true;
        }
    }

    /** Appends a chunk that must start where the last one ended, completing segments as they fill. */
    private void accept(ByteBuffer chunk, long start, int length, PGReplicationStream stream) throws SQLException {
        long expected = segment.startLsn().value() + filled;
        if (start != expected) {
            throw new IllegalStateException("the server sent WAL from " + new Lsn(start) + " where " + new Lsn(expected) + " was next");
        }
        while (length > 0) {
            int n = Math.min(length, SEGMENT - filled);
            ensureCapacity(filled + n);
            chunk.get(buffer, filled, n);
            filled += n;
            length -= n;
            received = new Lsn(segment.startLsn().value() + filled);
            if (unstoredSince == null && received.isAfter(stored)) {
                unstoredSince = Instant.now();
            }
            if (filled == SEGMENT) {
                complete(stream);
            }
        }
    }

    private void ensureCapacity(int size) {
        if (size > buffer.length) {
            buffer = Arrays.copyOf(buffer, Math.min(SEGMENT, Math.max(size, buffer.length * 2)));
        }
    }

    /** The segment is whole: archive it as both paths do, drop its partial, and go on with the next. */
    private void complete(PGReplicationStream stream) throws SQLException {
        WalFileName name = WalFileName.parse(segment.toString()).orElseThrow();
        WalFiles.Outcome outcome = files.archive(database, name, buffer, SEGMENT, Instant.now());
        if (outcome instanceof WalFiles.Refused refused) {
            LOG.error(refused.message());
            archive.moveTo(database, ArchiveState.CONFLICT, refused.message());
            throw new IllegalStateException(refused.message());
        }
        healthy();
        store.delete(List.of(ArchiveLayout.streamedKey(database, segment.toString())));
        segment = segment.next();
        filled = 0;
        buffer = new byte[FIRST_BUFFER];
        markStored(stream, segment.startLsn());
    }

    private void storeIfDue(PGReplicationStream stream, boolean force) throws SQLException {
        Instant since = unstoredSince;
        if (filled == 0 || since == null || !received.isAfter(stored)) {
            return;
        }
        if (force || System.currentTimeMillis() - since.toEpochMilli() >= uploadMillis) {
            storePartial();
            markStored(stream, received);
        }
    }

    /** Puts the partial segment in the store and records it; a failure goes to the caller (and the archive status). */
    private void storePartial() {
        WalFormat.Encoded encoded = WalFormat.encode(buffer, filled);
        Lsn end = new Lsn(segment.startLsn().value() + filled);
        try {
            store.put(ArchiveLayout.streamedKey(database, segment.toString()), encoded.stored(), encoded.metadata());
        } catch (StorageException e) {
            if (!failing) {
                failing = true;
                archive.moveTo(database, ArchiveState.FAILING, "The object store does not take streamed WAL: " + e.getMessage()
                        + " The server keeps its WAL for Keel's slot until it does.");
            }
            throw e;
        }
        Instant now = Instant.now();
        archive.saveStreamed(new StreamedWal(database, instance.id(), systemIdentifier, segment, end, filled, encoded.stored().length,
                encoded.sha256(), now));
        healthy();
        storedAt = now;
    }

    private void healthy() {
        if (failing) {
            failing = false;
            archive.moveTo(database, ArchiveState.OK, null);
        }
    }

    /** Everything through {@code through} is in the store: say so to the server, so that its slot lets that WAL go. */
    private void markStored(PGReplicationStream stream, Lsn through) throws SQLException {
        stored = through;
        if (!received.isAfter(through)) {
            unstoredSince = null;
        }
        stream.setFlushedLSN(LogSequenceNumber.valueOf(through.value()));
        stream.setAppliedLSN(LogSequenceNumber.valueOf(through.value()));
    }

    /** After the stream broke: store what was received and not stored yet, if the store takes it. */
    private void storeQuietly() {
        try {
            if (segment != null && filled > 0 && received != null && received.isAfter(stored)) {
                storePartial();
                stored = received;
                unstoredSince = null;
            }
        } catch (RuntimeException e) {
            LOG.warn("Could not store the WAL received from instance {} before the stream broke: {}", instance.id(), e.toString());
        }
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
