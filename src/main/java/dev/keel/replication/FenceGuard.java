package dev.keel.replication;

import dev.keel.DaemonThreads;
import dev.keel.PrivateFiles;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRuntime;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerSession;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserPrincipal;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The self-fence for when this node's Keel cannot run it: stopped, killed, hung, or still
 * starting. A process of its own, started by Keel ({@link FenceGuards}) and outliving it, that
 * applies the HA monitor's rule ({@code HaMonitor.selfFence}) to the primaries in its
 * {@link FenceWatch}: once Keel's last catalog contact is over half of T_fence old, it asks each
 * primary when its standby last replied, and kills a primary that neither Keel's contact nor a
 * reply has vouched for over T_fence, leaving {@code standby.signal} in it as any fence does. The
 * standby's node promotes only after the later of the two plus T_fence and a round, so across a
 * partition that comes while Keel is down the old primary is gone first, as when Keel runs. While
 * Keel's contact is fresh it does nothing: Keel fences. It needs no catalog, and holds no lease.
 * One runs per data directory (a file lock); it ends once nothing it watches has run for
 * {@link #IDLE_EXIT}, or its watch is gone, and Keel starts it again when there is something to guard.
 */
public final class FenceGuard {
    static final String WATCH_FILE = "watch";
    static final String LOCK_FILE = "guard.lock";
    static final String LOG_FILE = "guard.log";
    /** How long the guard stays with no primary it watches running. */
    static final Duration IDLE_EXIT = Duration.ofSeconds(30);
    /** A read of a standby's last reply: login and answer within this, as the self-fence's probe. */
    private static final int READ_SECONDS = 1;
    private static final Duration KILL_PATIENCE = Duration.ofSeconds(10);

    private final Path dir;
    /** When ({@link System#nanoTime}) each primary's standby last replied, as last read. */
    private final Map<UUID, Long> witnessedAt = new ConcurrentHashMap<>();
    /** When the newest read of each primary's standby that has ended began, whether it found a reply or not. */
    private final Map<UUID, Long> readBegan = new ConcurrentHashMap<>();
    /** How far each standby's clock was seen running ahead of this host's (see {@link HaMonitor#repliedAt}). */
    private final Map<UUID, Long> aheadNanos = new ConcurrentHashMap<>();
    private final Set<UUID> reading = ConcurrentHashMap.newKeySet();
    /** A session kept on each primary, so that a read takes a query, not a login (a login under load took over a second). */
    private final Map<UUID, ServerSession> sessions = new ConcurrentHashMap<>();
    private final ExecutorService readers = Executors.newCachedThreadPool(DaemonThreads.numbered("keel-fence-guard-read"));

    private FenceGuard(Path dir) {
        this.dir = dir;
    }

    /** {@code FenceGuard <directory>}: guards what the watch in the directory lists, unless another guard does. */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        try (FileChannel channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = channel.tryLock()) {
            if (lock == null) {
                return; // another guard watches this directory
            }
            new FenceGuard(dir).run();
        }
    }

    private void run() throws InterruptedException {
        say("started (pid " + ProcessHandle.current().pid() + ")");
        long idleSince = System.nanoTime();
        while (true) {
            Optional<FenceWatch> read = read();
            if (read.isEmpty()) {
                say("its watch is gone: exiting");
                return;
            }
            FenceWatch watch = read.get();
            long now = System.nanoTime();
            boolean anyRunning = false;
            for (FenceWatch.Server server : watch.servers()) {
                if (Postmaster.isRunning(server.dataDir())) {
                    anyRunning = true;
                    guard(watch, server, now);
                }
            }
            if (anyRunning) {
                idleSince = now;
            } else if (now - idleSince > IDLE_EXIT.toNanos()) {
                say("no primary it watches has run for " + IDLE_EXIT.toSeconds() + " s: exiting");
                return;
            }
            Thread.sleep(Math.max(10, watch.fenceAfter().dividedBy(8).toMillis()));
        }
    }

    /**
     * One look at one running primary: its standby's last reply is read (on a thread of its own,
     * every round, so that the reading is fresh the moment Keel falls quiet); while Keel's contact
     * is fresh nothing more; otherwise, once a read begun after Keel's last contact has ended, the
     * primary is killed past the deadline.
     */
    private void guard(FenceWatch watch, FenceWatch.Server server, long now) {
        long fenceAfter = watch.fenceAfter().toNanos();
        UUID id = server.instance();
        if (reading.add(id)) {
            readers.execute(() -> {
                try {
                    readReply(watch, server);
                } finally {
                    reading.remove(id);
                }
            });
        }
        if (now - watch.contactNanos() <= fenceAfter / 2) {
            return; // Keel reaches the catalog, and fences itself should it stop to
        }
        Long began = readBegan.get(id);
        if (began == null || began - watch.contactNanos() <= 0) {
            return; // not yet read since Keel went quiet: its last reply may be fresh
        }
        Long replied = witnessedAt.get(id);
        long vouched = replied == null ? watch.contactNanos() : Math.max(watch.contactNanos(), replied);
        if (now - vouched > fenceAfter) {
            fence(server, now - watch.contactNanos(), replied == null ? null : now - replied);
        }
    }

    private void readReply(FenceWatch watch, FenceWatch.Server server) {
        long began = System.nanoTime();
        UUID id = server.instance();
        try {
            ServerSession session = sessions.get(id);
            if (session == null) {
                session = InstanceConnections.probe(server.host(), server.port(), server.major(), server.password(), watch.certificate(),
                        READ_SECONDS);
                sessions.put(id, session);
            }
            session.standbyRepliedSecondsAgo(server.standby()).ifPresent(seconds -> {
                long ahead = aheadNanos.merge(id, Math.max(0, (long) (-seconds * 1e9)), Math::max);
                witnessedAt.merge(id, HaMonitor.repliedAt(began, seconds, ahead), Math::max);
            });
        } catch (SQLException e) {
            // No reply read: the standby's last known reply stands, and the next read logs in again.
            closeQuietly(sessions.remove(id));
        }
        readBegan.merge(id, began, Math::max);
    }

    private static void closeQuietly(ServerSession session) {
        if (session != null) {
            try {
                session.close();
            } catch (SQLException e) {
                // Gone already.
            }
        }
    }

    private void fence(FenceWatch.Server server, long sinceContact, Long sinceReply) {
        say("fencing instance " + server.instance() + ": Keel has not reached the catalog for " + Duration.ofNanos(sinceContact).toMillis()
                + " ms, nor has its standby replied for " + (sinceReply == null ? "as long as this guard has looked" : Duration.ofNanos(
                sinceReply).toMillis() + " ms") + "; the standby's node may promote it");
        try {
            Path data = server.dataDir();
            UserPrincipal owner = Files.getOwner(data, LinkOption.NOFOLLOW_LINKS);
            Postmaster.kill(data, owner.getName(), KILL_PATIENCE);
            closeQuietly(sessions.remove(server.instance()));
            // Started again by anyone, it comes up read-only, as after Keel's own fence.
            PrivateFiles.write(data.resolve(InstanceRuntime.RecoverySignal.STANDBY.file), "", file -> {
                try {
                    Files.setOwner(file, owner);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | RuntimeException e) {
            say("could not fence instance " + server.instance() + ": " + e);
        }
    }

    private Optional<FenceWatch> read() {
        try {
            return Optional.of(FenceWatch.parse(Files.readString(dir.resolve(WATCH_FILE))));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            say("could not read its watch (" + e + "): exiting");
            return Optional.empty();
        }
    }

    private static void say(String line) {
        System.out.println(Instant.now() + " fence guard: " + line);
    }
}
