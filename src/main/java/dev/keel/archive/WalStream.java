package dev.keel.archive;

import dev.keel.DaemonThreads;
import dev.keel.Fatal;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ReplicationSession;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.StorageException;
import io.micronaut.core.annotation.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.UUID;

/**
 * One primary's WAL, received over the replication protocol through the physical slot
 * {@link WalReceivers#SLOT} and put in the object store: what arrived of the segment being
 * filled goes up as its next part at most {@code uploadMillis} after it arrived, or 300 ms once a
 * MiB of it waits (a part holds
 * only the new bytes: a busy server's segment is not uploaded again and again), and the completed
 * segment through {@link WalFiles} like an archived one, after which its parts are removed. Only then does it tell the server it has flushed that
 * far, so the slot keeps whatever is not in the store; after a crash, a kill or a store outage it
 * starts again at the start of the segment that holds the slot's restart point.
 */
final class WalStream implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(WalStream.class);
    private static final int SEGMENT = Math.toIntExact(WalSegmentName.SEGMENT_BYTES);
    /** How often a lasting failure to store streamed WAL is said again to the archive status. */
    private static final long FAILURE_REPEAT_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** A quiet database's segment fills slowly: its buffer starts small and doubles as WAL arrives (density). */
    private static final int FIRST_BUFFER = 64 << 10;
    /**
     * The pause after WAL arrived, before the next read: what came in meanwhile waits in the socket
     * and is read at once. Every poll that finds nothing costs pgjdbc a read with a 1 ms timeout and
     * an exception, so polling every 5 ms under a trickle of commits was a large part of the
     * receiver's CPU; 25 ms delays WAL by at most that, against a bound of a second.
     */
    private static final long POLL_MILLIS = 25;
    private static final long IDLE_POLL_MILLIS = 100;
    /**
     * A synchronous stream's ({@link SynchronousArchive}) commits wait for it: it asks a quiet server
     * at least this often, stores what arrived as soon as a read finds nothing more, or once it has
     * waited {@link #SYNC_UPLOAD_MILLIS} while WAL keeps coming (the commits that came meanwhile go
     * up together), and tells the server at once.
     */
    private static final long SYNC_POLL_MILLIS = 5;
    private static final long SYNC_UPLOAD_MILLIS = 10;
    /**
     * Once this much WAL waits unstored, it goes up after {@link #BUSY_UPLOAD_MILLIS} already: a big
     * part takes long to upload (a few hundred ms for several MB on a loaded machine, which would
     * break the second), and at such rates a part's fixed cost is small beside its bytes' cost.
     */
    private static final int BUSY_PART_BYTES = 1 << 20;
    private static final long BUSY_UPLOAD_MILLIS = 300;
    private static final long STATUS_MILLIS = 1000;
    private static final int SOCKET_SECONDS = 30;
    private static final long RETRY_MILLIS = 1000;
    private static final long FOLLOWER_RETRY_MILLIS = 10_000;
    /**
     * How long a stream from another host may hear nothing before it tries the server's port: a
     * cut link shows in no read (the client's writes queue in the kernel, and a read that finds no
     * data returns at once, so no socket timeout ever fires).
     */
    private static final long SILENCE_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Above Linux's first SYN retransmission (1 s), so that one dropped SYN is no cut. */
    private static final Duration PORT_TIMEOUT = Duration.ofSeconds(3);
    /**
     * How long one walsender may hold the slot, its client silent as long, before this receiver,
     * the one wanted now, ends it: a receiver that moves lets go within a second, and a live one
     * replies every second, but a walsender whose client's host was cut off holds the slot until
     * the server's wal_sender_timeout (60 s).
     */
    private static final long SLOT_PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final int MAX_COMPLETIONS = 4;

    private final Instance instance;
    private final UUID database;
    private final InstanceConnections connections;
    private final ObjectStore store;
    private final WalFiles files;
    private final ArchiveRepository archive;
    private final long uploadMillis;
    private final Thread thread;
    private volatile boolean running = true;
    /** Whether the server's commits wait for this stream (its plan is in {@link SynchronousArchive}). */
    private volatile boolean synchronous;

    private byte[] buffer = new byte[0];
    private WalSegmentName segment;
    private int filled;
    /** Where in the segment the next part starts: everything before it is in the store. */
    private int storedOffset;
    private long storedBytes;
    private MessageDigest digest = Sha256.digest();
    /**
     * The segment's parts as stored (zstd frames), when this stream stored all of them: the whole
     * segment is then archived as their concatenation rather than compressed again.
     */
    private final ByteArrayOutputStream parts = new ByteArrayOutputStream();
    private boolean allParts;
    /** Whole segments being archived behind the stream, oldest first. */
    private final Deque<Completion> completions = new ArrayDeque<>();
    private long systemIdentifier;
    private boolean failing;
    /** When (System.nanoTime) this stream last said its failure to the archive status. */
    private long failureSaidAt;
    /** Whether this stream's last store failure was clearing a segment's leftover parts, which a clear that works then ends. */
    private boolean clearFailed;
    /** Whether the current stream has stored a part or a segment yet. */
    private boolean storedOnce;
    /** Whether this stream has warned that its chunks do not say the server's end of WAL. */
    private boolean endUnknownSaid;
    /** This connection's chunks' send times, as sightings of the server. */
    private SendTimes sendTimes;

    // What reports read: where the stream is, and since when WAL beyond what is stored exists.
    private volatile boolean connected;
    /** Since when ({@link System#nanoTime}) every try to reach the server failed to connect or lost its connection; null while it reaches it. */
    private volatile @Nullable Long unreachableSince;
    /** Whether the server runs on another host than this stream, whose link can be cut. */
    private final boolean remote;
    /** When ({@link System#nanoTime}) this stream last heard from its server, or last found its port open. */
    private long heardAt;
    /** The walsender this stream found holding the slot, and since when ({@link System#nanoTime}); null while it is free. */
    private @Nullable Integer slotHolder;
    private long slotHeldSince;
    /** What the server had flushed when this stream connected, and what it was seen holding since. */
    private final Sightings sightings = new Sightings();
    @Nullable
    private volatile Lsn received;
    @Nullable
    private volatile Lsn stored;
    /** The start of the first whole segment this connection could not archive ({@link #notArchived}); the stream's thread alone. */
    @Nullable
    private Lsn unarchivedFrom;
    /** What the server last heard this stream has stored ({@link #sayFlushed}); the stream's thread alone. */
    @Nullable
    private Lsn said;
    @Nullable
    private volatile Instant unstoredSince;
    @Nullable
    private volatile Instant storedAt;
    @Nullable
    private volatile String problem;

    WalStream(Instance instance, InstanceConnections connections, ObjectStore store, WalFiles files, ArchiveRepository archive,
              long uploadMillis, boolean remote, boolean synchronous) {
        this.instance = instance;
        this.synchronous = synchronous;
        this.remote = remote;
        this.database = instance.databaseId();
        this.connections = connections;
        this.store = store;
        this.files = files;
        this.archive = archive;
        this.uploadMillis = uploadMillis;
        this.thread = DaemonThreads.daemon(this, "keel-wal-receive-" + instance.id());
    }

    Instance instance() {
        return instance;
    }

    /** Whether the server's commits wait for this stream: it then stores and answers at once. */
    void synchronous(boolean wait) {
        synchronous = wait;
    }

    void start() {
        thread.start();
    }

    /** Stops receiving and waits (a while) for the thread: nothing is stored for this instance afterwards. */
    void stop() throws InterruptedException {
        requestStop();
        awaitStop(Instant.now().plusSeconds(30));
    }

    /** Tells the thread to store what it holds and end, without waiting for it. */
    void requestStop() {
        running = false;
        thread.interrupt();
    }

    /** Waits for the thread to end, until {@code deadline} at most. */
    void awaitStop(Instant deadline) throws InterruptedException {
        long millis = Duration.between(Instant.now(), deadline).toMillis();
        if (millis > 0) {
            thread.join(millis);
        }
    }

    /**
     * How the stream goes, for {@code /archive} and the metrics. {@code catchUpTo}: what the server
     * had flushed when the stream connected, while it is connected and that is not all stored (null otherwise);
     * {@code caughtUpAt}: meanwhile, the last time the stream knew everything the server had as
     * stored (null when not catching up: a quiet stream's status stays the same, and is not
     * reported again at every round).
     */
    record Status(boolean connected, @Nullable Lsn received, @Nullable Lsn stored, @Nullable Instant unstoredSince,
                  @Nullable Instant storedAt, @Nullable String problem, @Nullable Lsn catchUpTo, @Nullable Instant caughtUpAt) {
    }

    Status status() {
        boolean on = connected;
        Sightings.Seen connect = on ? sightings.catchingUp(stored) : null; // a connection that ended catches up to nothing
        return new Status(on, received, stored, oldestUnstored(), storedAt, problem, connect == null ? null : connect.flushed(),
                connect == null ? null : sightings.caughtUpAt());
    }

    /**
     * The server was seen at {@code at} with WAL flushed through {@code flushed}: if that is past
     * what is stored, the oldest WAL not in the store is at least that old.
     */
    void serverSeen(Lsn flushed, Instant at) {
        sightings.serverSeen(flushed, at, stored);
    }

    /**
     * Since when WAL not in the store exists: the oldest of what arrived unstored, what the server
     * was seen holding past it, and what it had flushed when this stream connected.
     */
    @Nullable
    private Instant oldestUnstored() {
        return sightings.oldestUnstored(stored, unstoredSince);
    }

    @Override
    public void run() {
        while (running) {
            long pause = RETRY_MILLIS;
            long attempt = System.nanoTime();
            try {
                pause = receive() ? RETRY_MILLIS : FOLLOWER_RETRY_MILLIS;
            } catch (InterruptedException e) {
                return;
            } catch (Throwable e) {
                Fatal.haltIfFatal(e);
                // Unreachable since it was last heard from (a silence), since the first failing try began (a try against a host
                // that drops packets takes its whole timeout), or since a session was lost now.
                long from = e instanceof Silence ? heardAt : connected ? System.nanoTime() : attempt;
                connected = false;
                unreachableSince = !unreachable(e) ? null : unreachableSince != null ? unreachableSince : from;
                problem = running ? describe(e) : null;
                if (running) {
                    LOG.warn("Receiving WAL from instance {} stopped: {}; starting again from its slot", instance.id(), problem);
                }
                storeQuietly();
            }
            connected = false;
            sightings.connectionEnded(storedForGood()); // its catch-up, if unfinished, stays a sighting: the WAL is as old while unreachable
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Streams until stopped or failed; false when the server is in recovery (a follower's), which has no WAL of its own to stream. */
    private boolean receive() throws SQLException, InterruptedException {
        settleCompletions();
        Lsn restart;
        try (ServerSession session = connections.open(instance, "postgres")) {
            unreachableSince = null; // it reaches the server, whatever fails next
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
            endStaleHolder(session);
        }
        try (ReplicationSession replication = connections.openReplication(instance, SOCKET_SECONDS)) {
            Instant identified = Instant.now(); // before asking: the position the server answers is no older than this
            ReplicationSession.Identity identity = replication.identify();
            sendTimes = new SendTimes(identified);
            systemIdentifier = identity.systemIdentifier();
            archive.systemOf(database, identity.timeline().value(), systemIdentifier);
            segment = WalSegmentName.containing(identity.timeline(), restart);
            filled = 0;
            buffer = new byte[FIRST_BUFFER];
            digest = Sha256.digest();
            // The slot first: it admits one receiver at a time, so once this stream holds it no other (on another node,
            // while the receiver moves) stores parts or rows of this server any more, and what follows reads and cleans up
            // a settled store. Read before, the other's part 0 of the next segment could be deleted under it.
            ReplicationSession.PhysicalStream stream = replication.startPhysical(WalReceivers.SLOT, segment.startLsn(), STATUS_MILLIS);
            // What an earlier stream of this server stored of this segment is not stored again: its next part
            // starts where that ended. Another server's row (the old primary's, saved as its stream stopped
            // after an upgrade or a failover) is not this server's WAL: then the segment starts afresh, and
            // parts already under its name (unrecorded) go first, or a shorter part 0 would leave a gap.
            WalSegmentName resumed = segment;
            Optional<StreamedWal> earlier = archive.streamed(database)
                    .filter(p -> p.segment().equals(resumed) && p.instance().equals(instance.id()));
            if (earlier.isEmpty()) {
                try {
                    clearParts(segment);
                } catch (StorageException e) {
                    RuntimeException failure = storeFailed(e);
                    clearFailed = true;
                    throw failure;
                }
                if (clearFailed) {
                    clearFailed = false;
                    healthy(); // what failed works again, and a quiet server may store no part for long
                }
            }
            stored = earlier.map(StreamedWal::end).orElse(segment.startLsn());
            unarchivedFrom = null; // this connection streams it again
            storedOffset = Math.toIntExact(earlier.map(StreamedWal::size).orElse(0L));
            storedBytes = earlier.map(StreamedWal::storedBytes).orElse(0L);
            parts.reset();
            allParts = storedOffset == 0; // an earlier stream's parts are in the store only
            received = segment.startLsn();
            // A new stream (Keel started, the receiver moved here) knows of no time it was caught up: its server's earlier
            // stream's, as of its last part, is one (not that part's store time, late by that stream's lag if it was behind).
            sightings.seed(() -> archive.streamed(database).filter(p -> p.instance().equals(instance.id()))
                    .map(StreamedWal::caughtUpAt));
            // The server's WAL through its flush position existed when it said so: a catch-up from the slot (after a
            // restart, a move, a cut connection) is behind from its first moment, not from when its WAL arrives.
            sightings.connected(identity.flushed(), identified);
            connected = true;
            slotHolder = null;
            heardAt = System.nanoTime();
            problem = null;
            storedOnce = false;
            LOG.info("Receiving WAL from instance {} from {} on", instance.id(), segment);
            // What is in the store is said at once: a commit that waited for the stream that broke goes on (synchronous).
            // A segment whose parts are all stored but whose whole copy is not is streamed again first: not past its start.
            // Only said: what this stream counts as stored stays where the earlier one's row ends.
            sayFlushed(stream, storedOffset == SEGMENT ? segment.startLsn() : stored);
            long pause = POLL_MILLIS;
            Instant quiet = identified; // the last read that found nothing: what arrives next was sent no earlier
            try {
                while (running) {
                    Instant asked = Instant.now();
                    ByteBuffer chunk = stream.readPending();
                    if (chunk == null) {
                        quiet = asked;
                        storeIfDue(stream, synchronous);
                        // Everything stored: caught up as of when the server was last heard from, not now (a cut link is silent).
                        sightings.settled(durable(stored), unstoredSince);
                        checkSilence();
                        Thread.sleep(Math.max(1, Math.min(pause, untilDue())));
                        // A quiet server is asked less often (a node holds many): WAL after a lull waits at most IDLE_POLL_MILLIS.
                        pause = Math.min(synchronous ? SYNC_POLL_MILLIS : IDLE_POLL_MILLIS, pause * 2);
                        continue;
                    }
                    pause = synchronous ? 1 : POLL_MILLIS;
                    heardAt = System.nanoTime();
                    Lsn serverEnd = stream.serverEnd();
                    if (serverEnd == null && !endUnknownSaid) {
                        endUnknownSaid = true;
                        LOG.warn("The replication stream of instance {} does not say the server's end of WAL with its chunks (pgjdbc"
                                + " changed how it hands them out?): the receiver cannot tell when it has everything, and its last"
                                + " caught-up moment stays where it is", instance.id());
                    }
                    sightings.heard(quiet, serverEnd);
                    sawBacklog(serverEnd, stream.serverSentAt());
                    int length = chunk.remaining();
                    long start = stream.receivedThrough().value() - length;
                    accept(chunk, start, length, stream);
                    storeIfDue(stream, false);
                }
            } catch (SQLException | RuntimeException e) {
                // What arrived is stored before the session closes (the server gone with its host: the WAL only this stream
                // has), while this stream may still hold the slot, so that another that takes it meanwhile finds it stored.
                storeQuietly();
                throw e;
            }
            storeQuietly();
            return true;
        }
    }

    /**
     * Ends the walsender that holds the slot once it has for {@link #SLOT_PATIENCE_NANOS} with its
     * client silent as long (by the server's clock against the client's stamps, which a 10 s bound
     * tolerates): a receiver cut off from the server. A live one, which replies every second and
     * may still store what it received, is waited for.
     */
    private void endStaleHolder(ServerSession session) throws SQLException {
        Optional<ServerSession.SlotHolder> holder = session.slotHolder(WalReceivers.SLOT);
        long now = System.nanoTime();
        if (holder.isEmpty()) {
            slotHolder = null;
        } else if (!Integer.valueOf(holder.get().pid()).equals(slotHolder)) {
            slotHolder = holder.get().pid();
            slotHeldSince = now;
        } else if (now - slotHeldSince > SLOT_PATIENCE_NANOS && (holder.get().repliedSecondsAgo() == null
                || holder.get().repliedSecondsAgo() * 1e9 > SLOT_PATIENCE_NANOS)) {
            LOG.warn("The WAL receiver's slot on instance {} has been held for over {} s by walsender {}, whose client has not replied"
                    + " as long: ending it (a receiver whose host was cut off, which the server would keep until wal_sender_timeout)",
                    instance.id(), TimeUnit.NANOSECONDS.toSeconds(SLOT_PATIENCE_NANOS), holder.get().pid());
            session.endSlotHolder(WalReceivers.SLOT, holder.get().pid());
            slotHolder = null;
        }
    }

    /**
     * After {@link #SILENCE_CHECK_NANOS} of hearing nothing from a server on another host, tries its
     * port (again every as long while the silence lasts): one that does not accept a connection
     * within {@link #PORT_TIMEOUT} is a cut link, and ends the session as a lost connection would.
     */
    private void checkSilence() throws SQLException {
        long now = System.nanoTime();
        if (!remote || now - heardAt < SILENCE_CHECK_NANOS) {
            return;
        }
        if (!connections.acceptsConnections(instance, PORT_TIMEOUT)) {
            throw new Silence("the server's port did not accept a connection within " + PORT_TIMEOUT.toMillis() + " ms after "
                    + TimeUnit.NANOSECONDS.toSeconds(now - heardAt) + " s of silence: the link to its host is cut");
        }
        heardAt = now;
    }

    /** A stream that heard nothing while the server's port did not answer: a lost connection (SQLSTATE 08006), lost since last heard. */
    private static final class Silence extends SQLException {
        Silence(String message) {
            super(message, "08006");
        }
    }

    /** A chunk came, sent at {@code sentAt} (the server's clock) when the server's end of WAL was {@code serverEnd}: a sighting ({@link SendTimes}). */
    private void sawBacklog(@Nullable Lsn serverEnd, @Nullable Instant sentAt) {
        if (serverEnd != null && sentAt != null) {
            sendTimes.chunk(serverEnd, sentAt, Instant.now(), sightings, stored);
        }
    }

    /** Appends a chunk that must start where the last one ended, completing segments as they fill. */
    private void accept(ByteBuffer chunk, long start, int length, ReplicationSession.PhysicalStream stream) throws SQLException, InterruptedException {
        long expected = segment.startLsn().value() + filled;
        if (start != expected) {
            throw new IllegalStateException("the server sent WAL from " + new Lsn(start) + " where " + new Lsn(expected) + " was next");
        }
        while (length > 0) {
            int n = Math.min(length, SEGMENT - filled);
            ensureCapacity(filled + n);
            chunk.get(buffer, filled, n);
            digest.update(buffer, filled, n);
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

    /**
     * The segment is whole: its last part goes to the store now, and the whole segment is archived
     * (as both paths do) in the background while the next one streams; the server hears it flushed
     * only once that is done, so its slot keeps the segment until then.
     */
    private void complete(ReplicationSession.PhysicalStream stream) throws SQLException, InterruptedException {
        if (received.isAfter(stored)) {
            storePartial();
        }
        if (completions.size() >= MAX_COMPLETIONS) {
            awaitOldest(); // a few segments at most are archived behind the stream
        }
        // Its parts joined, when this stream stored them all; else (resumed mid-segment) encoded afresh behind the stream.
        WalFormat.Encoded whole = allParts ? WalFormat.joined(parts.toByteArray(), Sha256.hex(digest.digest()), buffer, SEGMENT) : null;
        Completion next = new Completion(segment, buffer, whole, completions.peekLast());
        completions.addLast(next);
        next.start();
        segment = segment.next();
        filled = 0;
        storedOffset = 0;
        storedBytes = 0;
        parts.reset();
        allParts = true;
        buffer = new byte[FIRST_BUFFER];
        digest = Sha256.digest();
        markStored(stream, segment.startLsn());
    }

    /** Waits until the oldest completed segment is archived; its failure stops the stream, which starts again from the slot. */
    private void awaitOldest() throws InterruptedException {
        Completion oldest = completions.removeFirst();
        oldest.worker.join();
        if (oldest.failure != null) {
            throw archiveFailed(oldest);
        }
    }

    /** Archives one whole segment on its own thread and then removes its streamed parts. */
    private final class Completion {
        private final WalSegmentName whole;
        private final byte[] bytes;
        @Nullable
        private final WalFormat.Encoded encoded;
        private final Thread worker;
        @Nullable
        private final Completion before;
        private volatile RuntimeException failure;

        Completion(WalSegmentName whole, byte[] bytes, @Nullable WalFormat.Encoded encoded, @Nullable Completion before) {
            this.whole = whole;
            this.bytes = bytes;
            this.encoded = encoded;
            this.before = before;
            this.worker = DaemonThreads.daemon(this::archive, "keel-wal-complete-" + instance.id());
        }

        void start() {
            worker.start();
        }

        boolean done() {
            return !worker.isAlive();
        }

        private void archive() {
            try {
                if (before != null) {
                    before.worker.join(); // segments are archived in order
                }
                WalFileName name = WalFileName.parse(whole.toString()).orElseThrow();
                WalFiles.Outcome outcome = encoded != null ? files.archive(database, name, bytes, encoded, Instant.now())
                        : files.archive(database, name, bytes, SEGMENT, Instant.now());
                if (outcome instanceof WalFiles.Refused refused) {
                    LOG.error(refused.message());
                    archive.moveTo(database, ArchiveState.CONFLICT, refused.message());
                    failure = new IllegalStateException(refused.message());
                    return;
                }
                clearParts(whole);
            } catch (RuntimeException e) {
                failure = e;
            } catch (InterruptedException e) {
                failure = new IllegalStateException("interrupted archiving " + whole, e);
            }
        }
    }

    /** Milliseconds until what arrived unstored is due in the store (a sleep must not overrun it); long when nothing is. */
    private long untilDue() {
        Instant since = unstoredSince;
        return since == null ? Long.MAX_VALUE : since.toEpochMilli() + waitMillis() - System.currentTimeMillis();
    }

    /** How long what arrived may wait unstored: {@code uploadMillis}, less when much waits, little when commits wait for it. */
    private long waitMillis() {
        return synchronous ? Math.min(uploadMillis, SYNC_UPLOAD_MILLIS)
                : filled - storedOffset >= BUSY_PART_BYTES ? Math.min(uploadMillis, BUSY_UPLOAD_MILLIS) : uploadMillis;
    }

    /** Stores what arrived unstored once it is due, or at once with {@code now}; first takes in completed segments archived meanwhile. */
    private void storeIfDue(ReplicationSession.PhysicalStream stream, boolean now) throws SQLException {
        boolean archived = false;
        while (!completions.isEmpty() && completions.peekFirst().done()) {
            Completion done = completions.removeFirst();
            if (done.failure != null) {
                throw archiveFailed(done);
            }
            archived = true;
        }
        if (archived) {
            healthy();
            markStored(stream, stored);
        }
        Instant since = unstoredSince;
        if (filled == 0 || since == null || !received.isAfter(stored)) {
            return;
        }
        if (now || System.currentTimeMillis() - since.toEpochMilli() >= waitMillis()) {
            storePartial();
            markStored(stream, received);
        }
    }

    /**
     * Puts what was received of the segment since the last part in the store as its next part,
     * and records the whole prefix (size, sha256); a failure goes to the caller (and the archive status).
     */
    private void storePartial() {
        WalFormat.Encoded encoded = WalFormat.encode(buffer, storedOffset, filled - storedOffset);
        Lsn end = new Lsn(segment.startLsn().value() + filled);
        try {
            store.put(ArchiveLayout.streamedPartKey(database, segment.toString(), storedOffset), encoded.stored(), encoded.metadata());
        } catch (StorageException e) {
            throw storeFailed(e);
        }
        storedBytes += encoded.stored().length;
        if (allParts) {
            parts.writeBytes(encoded.stored());
        }
        Instant now = Instant.now();
        // Everything received is in the store now: caught up as of this part, unless the server has more (a catch-up, a
        // sighting, a backlog) or a whole segment before it is still being archived.
        archive.saveStreamed(new StreamedWal(database, instance.id(), systemIdentifier, segment, end, filled, storedBytes,
                Sha256.hex(clone(digest).digest()), now, sightings.caughtUpWith(durable(end), null)));
        storedOffset = filled;
        healthy();
        storedAt = now;
    }

    /**
     * Says a failure of the store (storing a part, archiving a completed segment, clearing a
     * segment's leftover parts) to the archive status, and returns it to be thrown.
     * Interrupted: this stream is being stopped (its server retired, Keel stopping), which is no failure of the store.
     * Said again every FAILURE_REPEAT while it lasts, not only the first time: a failure of the spool's uploads may
     * have taken the status's place meanwhile, and its recovery then left it ok. Not at every try: a stream retries
     * every second or so, and a node streams many databases.
     */
    private RuntimeException storeFailed(RuntimeException e) {
        clearFailed = false;
        long now = System.nanoTime();
        if (e instanceof StorageException && !(e instanceof StorageException.Interrupted)
                && (!failing || now - failureSaidAt >= FAILURE_REPEAT_NANOS)) {
            failing = true;
            failureSaidAt = now;
            archive.fail(database, ArchiveRepository.Cause.WAL_STREAM, "The object store does not take streamed WAL: " + e.getMessage()
                    + " The server keeps its WAL for Keel's slot until it does.");
        }
        return e;
    }

    private static MessageDigest clone(MessageDigest digest) {
        try {
            return (MessageDigest) digest.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deletes the streamed parts stored of {@code segment}. */
    private void clearParts(WalSegmentName segment) {
        store.delete(store.list(ArchiveLayout.streamedPrefix(database, segment.toString())).stream().map(ObjectInfo::key).toList());
    }

    /**
     * What this stream stores clears a failure of streamed WAL: its own, and, with its first part, one
     * a stopped stream left (stopped while the store failed it, or in the middle of a store); so does
     * clearing a segment's leftover parts once that failed.
     */
    private void healthy() {
        if (failing || !storedOnce) {
            failing = false;
            storedOnce = true;
            archive.recover(database, ArchiveRepository.Cause.WAL_STREAM);
        }
    }

    /**
     * Everything through {@code through} is in the store: say so to the server, so that its slot
     * lets that WAL go; never past a whole segment still being archived.
     */
    private void markStored(ReplicationSession.PhysicalStream stream, Lsn through) throws SQLException {
        stored = storedAtMost(through);
        if (!received.isAfter(through)) {
            unstoredSince = null;
        }
        Lsn durable = durable(through);
        sayFlushed(stream, durable);
        sightings.forget(WalSegmentName.containing(segment.timeline(), durable).startLsn(), durable);
    }

    /**
     * What the server last heard this stream has stored, else what it stored: after a stream broke
     * with a whole segment's archiving failed, the next starts at or before that segment, though
     * {@link #stored} is past it.
     */
    @Nullable
    private Lsn storedForGood() {
        return said != null ? said : stored;
    }

    /**
     * What the stream may count as stored when it has everything through {@code through} in the
     * store: no further than the start of a whole segment still being archived. Its parts are
     * stored, but once the next segment's part is recorded no row points at them, and should its
     * archiving fail the stream starts again before it; so the server hears it flushed no
     * further either ({@link #markStored}), and a caught-up moment claimed meanwhile would vouch
     * for WAL the archive may never hold.
     */
    private Lsn durable(Lsn through) {
        Completion pending = completions.peekFirst();
        // Nor past a segment whose whole copy failed, once its completion is off the queue: a part row saved as the stream
        // breaks would carry a caught-up moment for WAL the archive lacks, which a new receiver would take.
        return storedAtMost(pending == null ? through : pending.whole.startLsn());
    }

    /** Tells the server its WAL through {@code lsn} is stored: at once on a synchronous stream, whose commits wait for it. */
    private void sayFlushed(ReplicationSession.PhysicalStream stream, Lsn lsn) throws SQLException {
        said = lsn;
        stream.flushed(lsn);
        if (synchronous) {
            stream.sendStatus();
        }
    }

    /** After the stream broke: store what was received and not stored yet, if the store takes it. */
    private void storeQuietly() {
        try {
            if (segment != null && filled > storedOffset && received != null && received.isAfter(stored)) {
                storePartial();
                stored = storedAtMost(received);
                unstoredSince = null;
            }
        } catch (RuntimeException e) {
            LOG.warn("Could not store the WAL received from instance {} before the stream broke: {}", instance.id(), e.toString());
        }
        try {
            settleCompletions();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits for every completed segment still being archived, and forgets them: the next session
     * starts at the slot's restart point, at or before the first of them that failed, and streams
     * that one again.
     */
    private void settleCompletions() throws InterruptedException {
        while (!completions.isEmpty()) {
            Completion oldest = completions.removeFirst();
            oldest.worker.join();
            if (oldest.failure != null) {
                LOG.warn("Could not archive segment {} of instance {} before the stream broke: {}", oldest.whole, instance.id(),
                        oldest.failure.toString());
                notArchived(oldest);
            }
        }
    }

    /** A whole segment could not be archived: the stream stops ({@link #notArchived}). */
    private RuntimeException archiveFailed(Completion completion) {
        notArchived(completion);
        return storeFailed(completion.failure);
    }

    /**
     * A whole segment could not be archived: nothing from its start counts as stored until the next
     * connection, which starts at or before it and clears its parts (unless its row still points at
     * them), streams it again. Its WAL then counts from its own sightings, kept for that
     * ({@link Sightings#forget}), not from a report's look past a stored position beyond it.
     */
    private void notArchived(Completion completion) {
        Lsn start = completion.whole.startLsn();
        if (unarchivedFrom == null || unarchivedFrom.isAfter(start)) {
            unarchivedFrom = start;
        }
        stored = storedAtMost(stored);
    }

    /** {@code through}, or the start of a segment this connection could not archive, if that is lower. */
    @Nullable
    private Lsn storedAtMost(@Nullable Lsn through) {
        Lsn floor = unarchivedFrom;
        return through != null && floor != null && through.isAfter(floor) ? floor : through;
    }

    /** How long every try to reach the server has failed to connect or lost its connection (zero while it reaches it). */
    Duration unreachableFor() {
        Long since = unreachableSince;
        return since == null ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - since);
    }

    /** A failure to connect to the server or a connection lost (SQLSTATE class 08), not one the server answered with. */
    private static boolean unreachable(Throwable e) {
        return e instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08");
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
