package dev.keel.replication;

import dev.keel.DaemonThreads;
import dev.keel.PrivateFiles;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.ServerFence;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerSession;
import io.micronaut.core.annotation.Nullable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The self-fence for when this node's Keel cannot run it: stopped, killed, hung, or still
 * starting. A process of its own, started by Keel ({@link FenceGuards}) and outliving it, that
 * applies the HA monitor's rule ({@code HaMonitor.selfFence}) to the primaries of its
 * {@link FenceWatch}. It reads each primary's standby's last reply every T_fence/8, over a session
 * it keeps. While Keel's self-fence runs (its {@link FenceWatch.Pulse} is younger than T_fence/4)
 * it does nothing more: Keel fences, and salvages as it does. Otherwise ({@link #due}) it kills a
 * primary that neither Keel's last catalog contact nor a standby's reply has vouched for over
 * T_fence, through the same routine as Keel ({@link ServerFence}), each on a thread of its own. The
 * standby's node promotes only after the later of the two plus T_fence, a round and half a second,
 * so across a partition that comes while Keel is down the old primary is gone first, as when Keel
 * runs. While Keel does not watch them (it does not run, or has not taken them in yet), it also lets
 * go the commits of the primaries of its watch that wait for the WAL receiver (synchronous
 * archiving), as Keel's rounds would ({@link #watchCommits}): on one node the receiver dies with
 * Keel, and nothing else would. It needs no catalog, and holds no lease. One runs per data directory (a file lock); it ends
 * once nothing it watches has run for {@link #IDLE_EXIT}, its watch is gone, or the watch is
 * another build's (whose guard Keel then starts).
 */
public final class FenceGuard {
    static final String WATCH_FILE = "watch";
    static final String PULSE_FILE = "pulse";
    static final String LOCK_FILE = "guard.lock";
    static final String PID_FILE = "guard.pid";
    static final String LOG_FILE = "guard.log";
    /** How long the guard stays with no primary it watches running. */
    static final Duration IDLE_EXIT = Duration.ofSeconds(30);
    /** The name of the guard's sessions on the servers it watches. */
    static final String APPLICATION_NAME = "keel_fence_guard";
    /** A read of a standby's last reply: login and answer within this, as the self-fence's probe. */
    private static final int READ_SECONDS = 1;
    private static final Duration KILL_PATIENCE = Duration.ofSeconds(10);
    /** How often, while Keel does not watch them, the guard reads whether a primary's commits wait for the WAL receiver. */
    private static final long COMMITS_READ_NANOS = Duration.ofSeconds(1).toNanos();
    /** How often, while Keel watches them, the guard checks (or logs in again) the session it keeps for that read. */
    private static final long COMMITS_KEEP_NANOS = Duration.ofSeconds(5).toNanos();
    /**
     * The login and statement time of those reads, as Keel's own probe's: a commit waits under load,
     * and letting it go writes {@code postgresql.auto.conf} (fsynced) and reloads.
     */
    private static final int COMMITS_SECONDS = 3;

    private final Path dir;
    private final String build;
    /** What the guard keeps of each primary it fences should Keel not (the watch's servers); the main loop's alone. */
    private final Map<UUID, Guarded> guarded = new HashMap<>();
    /** What it keeps of each primary whose commits it lets go while no Keel watches them (the watch's let-go list); the loop's alone. */
    private final Map<UUID, LettingGo> lettingGo = new HashMap<>();
    private final ExecutorService workers = Executors.newCachedThreadPool(DaemonThreads.numbered("keel-fence-guard"));

    /**
     * What the guard keeps of one primary: a session kept on it, and whether a worker uses it now
     * (what is kept is forgotten only once none does, so that a primary that leaves the watch and
     * comes back is never read, or fenced, by two at once). The fields a worker writes have that one
     * writer at a time.
     */
    private abstract static class Kept {
        final KeptSession session;

        Kept(int loginSeconds) {
            session = new KeptSession(loginSeconds);
        }

        abstract boolean busy();
    }

    /**
     * A primary the guard fences should Keel not: its session, so that a read takes a query, not a
     * login (a login under load took over a second); its standby's clock; when
     * ({@link System#nanoTime}) its standby last replied, as last read (null while none was); and
     * whether it is read, and fenced, now (at most one of each at a time).
     */
    private static final class Guarded extends Kept {
        final StandbyClock clock = new StandbyClock();
        final AtomicBoolean reading = new AtomicBoolean();
        final AtomicBoolean fencing = new AtomicBoolean();
        volatile @Nullable Long witnessedAt;

        Guarded() {
            super(READ_SECONDS);
        }

        @Override
        boolean busy() {
            return reading.get() || fencing.get();
        }
    }

    /**
     * A primary whose commits the guard lets go: its session (apart from the fence's, so that
     * neither read waits for the other); whether it is read now; what the guard has seen of its
     * waiting commits since no Keel watched them (cleared each round while Keel does); when it last
     * read it (null before the first read); and the kind of its last failure to read it (said once).
     */
    private static final class LettingGo extends Kept {
        final AtomicBoolean checking = new AtomicBoolean();
        volatile SyncCommit.@Nullable Seen seen;
        volatile @Nullable Long readAt;
        volatile @Nullable String failure;

        LettingGo() {
            super(COMMITS_SECONDS);
        }

        @Override
        boolean busy() {
            return checking.get();
        }
    }

    /**
     * A session kept on one server: logged in by the first read that needs one, and again after a
     * failure ({@link #drop}) or once what the watch says to log in with changed (its address, major
     * or password). Closed for good once its primary is forgotten ({@link #close}): a login that ends
     * after that is closed at once. Logins and closes run outside the lock, which guards only the
     * fields: the main loop, which closes, never waits for either.
     */
    private static final class KeptSession {
        private final int seconds;
        private @Nullable ServerSession session;
        private @Nullable Login loggedInBy;
        private boolean closed;

        KeptSession(int seconds) {
            this.seconds = seconds;
        }

        /** The session, logged in if there is none for {@code server}'s entry as it stands; null once closed. */
        @Nullable
        ServerSession get(FenceWatch watch, FenceWatch.Server server) throws SQLException {
            Login login = new Login(server.host(), server.port(), server.major(), server.password());
            ServerSession stale;
            synchronized (this) {
                if (closed) {
                    return null;
                }
                if (session != null && login.equals(loggedInBy)) {
                    return session;
                }
                stale = session;
                session = null;
            }
            closeQuietly(stale);
            ServerSession made = InstanceConnections.probe(server.host(), server.port(), server.major(), server.password(),
                    watch.certificate(), seconds, APPLICATION_NAME);
            synchronized (this) {
                if (!closed) {
                    session = made;
                    loggedInBy = login;
                    return made;
                }
            }
            closeQuietly(made);
            return null;
        }

        /** Closes the session, if any: the next read logs in again. */
        void drop() {
            ServerSession dropped;
            synchronized (this) {
                dropped = session;
                session = null;
            }
            closeQuietly(dropped);
        }

        /** Closes the session for good. */
        void close() {
            synchronized (this) {
                closed = true;
            }
            drop();
        }
    }

    /** What a session on a server logs in with, as the watch says. */
    private record Login(String host, int port, int major, String password) {
    }

    private FenceGuard(Path dir, String build) {
        this.dir = dir;
        this.build = build;
    }

    /** {@code FenceGuard <directory>}: guards what the watch in the directory lists, unless another guard does. */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        try (FileChannel channel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = channel.tryLock()) {
            if (lock == null) {
                return; // another guard watches this directory
            }
            // Every class a fence needs is read from the jar now: a jar replaced in place (an upgrade) cannot fail the kill later.
            for (Class<?> used : List.of(ServerFence.class, ServerFence.Target.class, Postmaster.class, PrivateFiles.class, StandbyClock.class,
                    FenceWatch.Pulse.class, FenceWatch.Server.class, InstanceConnections.class, ServerSession.class, SyncCommit.class,
                    SyncCommit.Seen.class, SyncCommit.Verdict.class, SyncCommit.Action.class, ServerSession.PrimaryCheck.class,
                    Kept.class, Guarded.class, LettingGo.class, KeptSession.class, Login.class)) {
                Class.forName(used.getName(), true, FenceGuard.class.getClassLoader());
            }
            ServerSession.synchronousStandbyStatement(null); // what renders it, loaded too (the TLS login is, by the first one)
            PrivateFiles.write(dir.resolve(PID_FILE), Long.toString(ProcessHandle.current().pid()));
            new FenceGuard(dir, ThisNode.buildVersion()).run();
        }
    }

    /**
     * Whether a primary is due to be fenced at {@code now}: neither Keel's last catalog contact nor
     * the standby's last reply ({@code replied}, null while none was read) is younger than T_fence,
     * and either Keel's self-fence does not fence it (its pulse is over T_fence/4 old, two of its
     * rounds, or does not cover the watch: Keel still starting), or has let a round pass beyond the
     * deadline without fencing it (Keel hung, or died, just after its last pulse).
     */
    static boolean due(long now, FenceWatch.Pulse pulse, Long replied, Duration fenceAfter) {
        long late = unvouchedNanos(now, pulse.contactNanos(), replied);
        if (late <= fenceAfter.toNanos()) {
            return false;
        }
        boolean keelFences = pulse.covers() && keelRuns(now, pulse, fenceAfter);
        return !keelFences || late > fenceAfter.toNanos() + fenceAfter.toNanos() / 8;
    }

    private void run() throws InterruptedException {
        say("started (pid " + ProcessHandle.current().pid() + ", build " + build + ")");
        FenceWatch watch = null;
        FenceWatch.Pulse pulse = null;
        long idleSince = System.nanoTime();
        while (true) {
            try {
                watch = FenceWatch.parse(Files.readString(dir.resolve(WATCH_FILE)));
            } catch (NoSuchFileException e) {
                say("its watch is gone: exiting");
                return;
            } catch (IllegalArgumentException e) {
                say("its watch is not one this build reads (" + e.getMessage() + "): exiting, for Keel to start its own build's guard");
                return;
            } catch (IOException | UncheckedIOException e) {
                if (watch == null) {
                    say("could not read its watch (" + e + "): exiting");
                    return;
                }
                // The last watch read stands.
            }
            if (!watch.build().equals(build)) {
                say("its watch is build " + watch.build() + "'s: exiting, for Keel to start that build's guard");
                return;
            }
            try {
                pulse = FenceWatch.Pulse.parse(Files.readString(dir.resolve(PULSE_FILE)));
            } catch (IOException | RuntimeException e) {
                // The last pulse read stands: it only grows older.
            }
            forgetAllBut(guarded, watch.servers());
            forgetAllBut(lettingGo, watch.letGo());
            boolean anyRunning = false;
            for (FenceWatch.Server server : watch.servers()) {
                if (Postmaster.isRunning(server.dataDir())) {
                    anyRunning = true;
                    Guarded state = guarded.computeIfAbsent(server.instance(), id -> new Guarded());
                    read(watch, server, state);
                    if (pulse != null && due(System.nanoTime(), pulse, pulse.witnessed(server.instance(), state.witnessedAt), watch.fenceAfter())) {
                        fence(server, state, pulse);
                    }
                }
            }
            for (FenceWatch.Server server : watch.letGo()) {
                if (Postmaster.isRunning(server.dataDir())) {
                    anyRunning = true;
                    watchCommits(watch, server, lettingGo.computeIfAbsent(server.instance(), id -> new LettingGo()), pulse);
                }
            }
            long now = System.nanoTime();
            if (anyRunning) {
                idleSince = now;
            } else if (now - idleSince > IDLE_EXIT.toNanos()) {
                say("no primary it watches has run for " + IDLE_EXIT.toSeconds() + " s: exiting");
                return;
            }
            // Twice as often as Keel's self-fence: one that stopped just after its last pulse is taken over within a round of it.
            Thread.sleep(Math.max(10, watch.fenceAfter().dividedBy(16).toMillis()));
        }
    }

    /** Reads the standby's last reply of {@code server} on a thread of its own, unless a read of it is under way. */
    private void read(FenceWatch watch, FenceWatch.Server server, Guarded state) {
        if (!state.reading.compareAndSet(false, true)) {
            return;
        }
        workers.execute(() -> {
            long began = System.nanoTime();
            try {
                ServerSession session = state.session.get(watch, server);
                if (session == null) {
                    return; // no longer watched
                }
                session.standbyRepliedSecondsAgo(server.standby()).ifPresent(seconds -> {
                    state.clock.note(server.standby(), seconds, System.nanoTime());
                    long repliedAt = StandbyClock.repliedAt(began, seconds, state.clock.aheadNanos());
                    Long before = state.witnessedAt;
                    state.witnessedAt = before == null ? repliedAt : Math.max(before, repliedAt);
                });
            } catch (SQLException | RuntimeException e) {
                // No reply read: the standby's last known reply stands, and the next read logs in again.
                state.session.drop();
            } finally {
                state.reading.set(false);
            }
        });
    }

    /**
     * How long, at {@code now}, nothing has vouched for a primary: since the later of its node's last
     * catalog contact and its last witness (its standby's reply, or the standby's node's vouch; null
     * or {@link Long#MIN_VALUE} while there is none). Past T_fence it is fenced: the one rule of
     * Keel's self-fence ({@code HaMonitor.selfFence}) and the guard's ({@link #due}).
     */
    static long unvouchedNanos(long now, long contactNanos, @Nullable Long witnessed) {
        return now - (witnessed == null ? contactNanos : Math.max(contactNanos, witnessed));
    }

    /**
     * Whether Keel runs on this node, by its pulse: its self-fence writes one every T_fence/8, so
     * one younger than T_fence/4 says its rounds (synchronous archiving's among them) go on.
     */
    static boolean keelRuns(long now, FenceWatch.Pulse pulse, Duration fenceAfter) {
        return now - pulse.writtenNanos() < fenceAfter.toNanos() / 4;
    }

    /**
     * Whether Keel lets the commits of {@code instance} go itself, should they wait too long: it
     * runs ({@link #keelRuns}), and its synchronous archiving watches that primary (a Keel just
     * started, or one stopping, does not). Else the guard does ({@link #watchCommits}).
     */
    static boolean keelWatchesCommits(long now, @Nullable FenceWatch.Pulse pulse, Duration fenceAfter, UUID instance) {
        return pulse != null && keelRuns(now, pulse, fenceAfter) && pulse.watchesCommits().contains(instance);
    }

    /**
     * Lets go the commits of {@code server} that wait for the WAL receiver while no Keel watches
     * them ({@link #keelWatchesCommits}): Keel does not run, or runs but its synchronous archiving
     * has not taken the primary in yet (a Keel just started) or no longer does (one stopping). It
     * then reads once a second, on a thread of its own, whether they wait, and lets them go as
     * Keel's rounds would ({@link SyncCommit#decide}): once one has been seen waiting, or the receiver
     * not streaming, for longer than the grace, as counted from the guard's own sightings. It never
     * makes commits wait: Keel does again once it watches them and its receiver has caught up.
     * While Keel watches, what the guard saw is forgotten, and it only keeps a session logged in
     * (checked every 5 s, and logged in again when the server restarted or moved), so that its
     * first read after Keel stops is a query, not a login under load in a cold JVM.
     */
    private void watchCommits(FenceWatch watch, FenceWatch.Server server, LettingGo state, @Nullable FenceWatch.Pulse pulse) {
        UUID id = server.instance();
        long now = System.nanoTime();
        boolean keelWatches = keelWatchesCommits(now, pulse, watch.fenceAfter(), id);
        if (keelWatches) {
            state.seen = null;
        }
        Long readAt = state.readAt;
        if (readAt != null && now - readAt < (keelWatches ? COMMITS_KEEP_NANOS : COMMITS_READ_NANOS) || !state.checking.compareAndSet(false, true)) {
            return;
        }
        state.readAt = now;
        workers.execute(() -> {
            try {
                ServerSession session = state.session.get(watch, server);
                if (session == null) {
                    return; // no longer watched
                }
                if (keelWatches) {
                    session.setting("server_version_num"); // still answers: a server restarted meanwhile fails it, and is logged in again
                    state.failure = null;
                    return;
                }
                ServerSession.PrimaryCheck check = SyncCommit.receiverCheck(session, server.standby());
                if (check.inRecovery() || !check.synchronousStandby()) {
                    state.seen = null;
                    return;
                }
                Instant at = Instant.now();
                SyncCommit.Seen seen = state.seen;
                if (seen == null) {
                    seen = new SyncCommit.Seen();
                    state.seen = seen;
                }
                Duration longestWait = seen.observe(check, at);
                SyncCommit.Verdict verdict = SyncCommit.decide(ReceiverSyncCommit.WAITED_FOR, true, check, longestWait,
                        seen.notStreamingSince(), null, null, at, watch.syncGrace());
                if (verdict.action() == SyncCommit.Action.DISABLE) {
                    session.synchronousStandby(null);
                    state.seen = null;
                    say("let the commits of instance " + id + " go, as Keel would (" + verdict.degraded() + "): "
                            + (pulse == null || !keelRuns(System.nanoTime(), pulse, watch.fenceAfter()) ? "Keel does not run"
                            : "Keel runs but does not watch them yet") + "; they are acknowledged before their WAL is in the object"
                            + " store until Keel watches them again");
                }
                state.failure = null;
            } catch (SQLException | RuntimeException | LinkageError e) {
                // Not read: the next read logs in again. Said once per kind of failure (a class the jar no longer has is a LinkageError).
                state.session.drop();
                String kind = e.getClass().getName();
                if (!kind.equals(state.failure)) {
                    say("could not read whether the commits of instance " + id + " wait: " + e);
                }
                state.failure = kind;
            } finally {
                state.checking.set(false);
            }
        });
    }

    /** Fences {@code server} on a thread of its own, all at once with any other due, as Keel's self-fence does. */
    private void fence(FenceWatch.Server server, Guarded state, FenceWatch.Pulse pulse) {
        UUID id = server.instance();
        if (!state.fencing.compareAndSet(false, true)) {
            return;
        }
        long now = System.nanoTime();
        Long replied = pulse.witnessed(id, state.witnessedAt);
        say("fencing instance " + id + ": Keel has not reached the catalog for " + Duration.ofNanos(now - pulse.contactNanos()).toMillis()
                + " ms, nor has its standby replied (or its node vouched) for " + (replied == null ? "as long as this guard has looked"
                : Duration.ofNanos(now - replied).toMillis() + " ms") + "; the standby's node may promote it");
        workers.execute(() -> {
            try {
                Path data = server.dataDir();
                String account = Files.getOwner(data, LinkOption.NOFOLLOW_LINKS).getName();
                String unsalvaged = ServerFence.fence(new ServerFence.Target(data, server.spool()), account, ownedLike(data), KILL_PATIENCE);
                state.session.drop();
                say("fenced instance " + id + (unsalvaged == null ? "" : ", but could not hand its unarchived WAL to its spool: " + unsalvaged));
            } catch (IOException | RuntimeException e) {
                say("could not fence instance " + id + ": " + e);
            } finally {
                state.fencing.set(false);
            }
        });
    }

    /** Hands a file to whoever owns {@code dir} (the link itself, never its target), when that is not already so. */
    private static Consumer<Path> ownedLike(Path dir) throws IOException {
        Object uid = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        Object gid = Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        return file -> {
            try {
                if (!uid.equals(Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS))) {
                    Files.setAttribute(file, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
                    Files.setAttribute(file, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    /**
     * Forgets what is kept of each primary the watch no longer lists in {@code listed}, closing its
     * session, once no worker uses it (until then it stays, and serves again should the primary be
     * listed again meanwhile).
     */
    private static void forgetAllBut(Map<UUID, ? extends Kept> kept, List<FenceWatch.Server> listed) {
        Set<UUID> ids = listed.stream().map(FenceWatch.Server::instance).collect(Collectors.toSet());
        kept.entrySet().removeIf(entry -> {
            boolean forgotten = !ids.contains(entry.getKey()) && !entry.getValue().busy();
            if (forgotten) {
                entry.getValue().session.close();
            }
            return forgotten;
        });
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

    private static void say(String line) {
        System.out.println(Instant.now() + " fence guard: " + line);
    }
}
