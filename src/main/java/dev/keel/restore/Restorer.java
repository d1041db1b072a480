package dev.keel.restore;

import dev.keel.DaemonThreads;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.ServerSession;
import dev.keel.archive.ArchiveRepository;
import dev.keel.archive.Backup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceSpec;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.WalSegmentName;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The restore engine: a new instance made from a base backup of a source's archive plus its WAL,
 * recovered to a {@link RecoveryTarget} and promoted. The data directory is streamed down and
 * checked file by file; WAL is served to {@code restore_command} by a {@link WalServer}. A
 * restore ends one of two ways: stop at the target and promote (rollback, fork), or keep
 * following as a standby once it streams from its upstream (follower).
 */
@Singleton
public final class Restorer {
    private static final Logger LOG = LoggerFactory.getLogger(Restorer.class);
    private static final long CHECK_MILLIS = 100;
    private static final String TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached";
    private static final int STEPS = 6;
    private static final String NO_REASON = "it exited without saying why in its log";
    private static final long START_GRACE_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long STREAM_PATIENCE_NANOS = TimeUnit.MINUTES.toNanos(5);

    private final BackupReader reader;
    private final WalFetcher fetcher;
    private final ArchiveRepository archive;
    private final InstanceMaker maker;
    private final InstanceRuntime runtime;
    private final Reconfiguration reconfiguration;
    private final InstanceConnections connections;
    private final ExecutorService downloads;

    Restorer(BackupReader reader, WalFetcher fetcher, ArchiveRepository archive, InstanceMaker maker, InstanceRuntime runtime,
             Reconfiguration reconfiguration,
             InstanceConnections connections) {
        this.reader = reader;
        this.fetcher = fetcher;
        this.archive = archive;
        this.maker = maker;
        this.runtime = runtime;
        this.reconfiguration = reconfiguration;
        this.connections = connections;
        this.downloads = Executors.newFixedThreadPool(4, DaemonThreads.numbered("keel-wal-fetch"));
    }

    /**
     * What to restore: the new instance's database and role, the source's backup, how far to
     * replay, and the new instance's settings once recovered.
     */
    record Request(UUID databaseId, InstanceRole role, int major, UUID sourceId, String sourceSuperuserPassword, Backup backup,
                   RecoveryTarget target, Map<String, String> settings, int recoveryConnections, List<HbaRule> hba,
                   BooleanSupplier wanted) {
    }

    /**
     * What follows a restored server's recovery: its restore exchange goes, a promoted one's
     * superuser gets a password of its own (a standby is read-only: it keeps its upstream's roles),
     * and its {@code settings} and {@code hba} are applied, without {@code restore_command} now.
     * Each part may run again.
     */
    void finish(Instance instance, boolean promoted, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        runtime.endRecovery(instance);
        if (promoted) {
            maker.rotateSuperuserPassword(instance, connections);
        }
        reconfiguration.apply(instance, settings, hba);
    }

    /**
     * Restores and recovers, then promotes or, for a {@link RecoveryTarget.Follow}, waits until the
     * standby streams; returns the running instance (state {@code creating}). A failure removes it.
     */
    Instance restore(Request request, RestoreProgress progress) throws Exception {
        progress.report(InstanceMaker.RESERVING, 1, STEPS, "steps");
        // The configuration files get the plan's settings; recovery's own go on the command line of the recovering
        // start only, so that none of them lingers once the server is a primary. Recovery refuses fewer connections
        // than the source had: the plan's own number may take a restart after promotion.
        Map<String, String> recovering = new LinkedHashMap<>(request.target().settings());
        recovering.put("max_connections", Integer.toString(request.recoveryConnections()));
        InstanceSpec spec = maker.reserveForRestore(request.databaseId(), request.role(), request.major(),
                request.sourceSuperuserPassword(), request.settings(), request.hba());
        Instance instance = spec.instance();
        try {
            Backup backup = request.backup();
            WalSegmentName first = WalSegmentName.containing(backup.timeline(), backup.startLsn());
            boolean follows = request.target().follows();
            try (WalServer server = new WalServer(instance, request.sourceId(), first, request.target().waitThrough(), runtime, archive,
                    fetcher, downloads)) {
                long size = backup.size() == null ? 0 : backup.size();
                progress.report(RestoreProgress.RESTORING, 0, size, "bytes");
                runtime.restore(spec, follows ? InstanceRuntime.RecoverySignal.STANDBY : InstanceRuntime.RecoverySignal.RECOVERY,
                        sink -> reader.unpack(request.sourceId(), backup.id(), sink,
                                done -> progress.report(RestoreProgress.RESTORING, done, size, "bytes")));
                // WAL is fetched from here on, not during the unpacking, which keeps every core busy: replay runs on one
                // core, leaving the other to fetch and check what it will ask for next.
                server.start();
                progress.report(RestoreProgress.REPLAYING, 0, server.segmentsExpected(), "segments");
                runtime.startRecovering(instance, recovering);
                awaitRecovered(request, recovering, server, progress);
            }
            progress.report(follows ? RestoreProgress.STREAMING : RestoreProgress.PROMOTING, 5, STEPS, "steps");
            finish(instance, !follows, spec.settings(), request.hba());
            return instance;
        } catch (CorruptArchiveException e) {
            maker.discard(instance);
            throw new RestoreFailedException("The archive cannot be restored: " + e.getMessage());
        } catch (Exception e) {
            maker.discard(instance);
            throw e;
        }
    }

    /**
     * Waits until the server has recovered and promoted (or, following, streams from its
     * upstream), reporting how far replay got. A server
     * that stops on its own failed, except in one case: a rollback target after the last
     * transaction in the archive is never "reached" (Postgres needs a later commit to see it),
     * yet the archive's end is then exactly the source as of the target, so recovery is run to
     * the end instead.
     */
    private void awaitRecovered(Request request, Map<String, String> recovering, WalServer server, RestoreProgress progress)
            throws InterruptedException {
        Instance instance = server.instance();
        boolean toTheEnd = false;
        // The last run's reason, still the newest in the log until the next run writes its own.
        String previous = null;
        // pg_ctl returns before the postmaster writes its pid file: not running yet is no failure at first.
        long startedAt = System.nanoTime();
        boolean seenRunning = false;
        long asked = -1;
        long movedAt = System.nanoTime();
        try (Watch watch = new Watch(instance)) {
            while (true) {
                Thread.sleep(CHECK_MILLIS);
                if (!request.wanted().getAsBoolean()) {
                    throw new KeelException(ProblemType.BEING_DELETED, "The restore stopped because the database is being deleted.");
                }
                boolean running = runtime.isRunning(instance);
                seenRunning |= running;
                if (!running) {
                    String fatal = fatalLine(instance);
                    if (!seenRunning && (fatal.equals(NO_REASON) || fatal.equals(previous)) && System.nanoTime() - startedAt < START_GRACE_NANOS) {
                        continue;
                    }
                    watch.close();
                    if (server.failure() == null && fatal.contains(TARGET_NOT_REACHED) && request.target() instanceof RecoveryTarget.Time time
                            && !toTheEnd) {
                        LOG.info("Recovering instance {} to the end of the archive: it holds no transaction after {}, so its end is the"
                                + " source as of that time", instance.id(), time.at());
                        Map<String, String> toEnd = new LinkedHashMap<>(recovering);
                        toEnd.keySet().removeIf(k -> k.startsWith("recovery_target"));
                        runtime.startRecovering(instance, toEnd);
                        toTheEnd = true;
                        previous = fatal;
                        startedAt = System.nanoTime();
                        seenRunning = false;
                        continue;
                    }
                    throw new RestoreFailedException(server.failure() != null ? "The archive cannot be restored: " + server.failure()
                            : "The restored server stopped during recovery: " + fatal);
                }
                if (server.failure() != null) {
                    continue; // the server stops at its next request for WAL
                }
                ServerSession.Replay replay = watch.replay();
                if (replay != null && (request.target().follows() ? replay.streaming() : !replay.inRecovery())) {
                    return;
                }
                String step = replay == null || replay.lastReplayedAt() == null ? RestoreProgress.REPLAYING
                        : RestoreProgress.REPLAYING + " (at " + replay.lastReplayedAt() + ")";
                progress.report(step, server.segmentsAsked(), Math.max(server.segmentsAsked(), server.segmentsExpected()), "segments");
                if (server.segmentsAsked() != asked) {
                    asked = server.segmentsAsked();
                    movedAt = System.nanoTime();
                } else if (request.target().follows() && System.nanoTime() - movedAt > STREAM_PATIENCE_NANOS) {
                    // Past the archive it streams, or nothing: its upstream refuses it, or is gone.
                    throw new RestoreFailedException("The standby replayed the archive but did not start streaming from its upstream"
                            + " within " + TimeUnit.NANOSECONDS.toMinutes(STREAM_PATIENCE_NANOS) + " minutes; its"
                            + " log says: " + lastLogLine(instance));
                }
            }
        }
    }

    /**
     * Where replay is, asked on one connection kept open from when the server first takes one
     * (once consistent) to promotion: a connection per look would cost the recovering server a
     * TLS handshake and a SCRAM exchange every time. Attempts before it takes connections are
     * spaced out for the same reason.
     */
    private final class Watch implements AutoCloseable {
        private static final long CONNECT_SPACING_MILLIS = 500;
        private final Instance instance;
        private ServerSession session;
        private long triedAt;

        Watch(Instance instance) {
            this.instance = instance;
        }

        /** Where replay is, or null while the server takes no connections yet. */
        ServerSession.Replay replay() {
            try {
                if (session == null) {
                    if (System.currentTimeMillis() - triedAt < CONNECT_SPACING_MILLIS) {
                        return null;
                    }
                    triedAt = System.currentTimeMillis();
                    session = connections.open(instance, "postgres");
                }
                return session.replay();
            } catch (SQLException e) {
                close();
                return null;
            }
        }

        @Override
        public void close() {
            if (session != null) {
                try {
                    session.close();
                } catch (SQLException ignored) {
                    // gone with the server
                }
                session = null;
            }
        }
    }

    /** The server log's last line, or {@link #NO_REASON}. */
    private String lastLogLine(Instance instance) {
        List<String> tail = runtime.logTail(instance, 1);
        return tail.isEmpty() ? NO_REASON : tail.get(0);
    }

    /** The server log's last FATAL or PANIC line of the server itself (not of a session), or {@link #NO_REASON}. */
    private String fatalLine(Instance instance) {
        List<String> tail = runtime.logTail(instance, 200);
        for (int i = tail.size() - 1; i >= 0; i--) {
            String line = tail.get(i);
            int at = Math.max(line.indexOf("FATAL:"), line.indexOf("PANIC:"));
            // Sessions' lines carry user@database (log_line_prefix): a refused connection is not why the server stopped.
            if (at >= 0 && !line.substring(0, at).contains("@")) {
                return line.substring(at);
            }
        }
        return NO_REASON;
    }

    @PreDestroy
    void stop() {
        downloads.shutdownNow();
    }
}
