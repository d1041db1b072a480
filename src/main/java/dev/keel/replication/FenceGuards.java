package dev.keel.replication;

import dev.keel.DaemonThreads;
import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.nodes.ThisNode;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

/**
 * Keeps this node's {@link FenceGuard} informed and running. The HA monitor hands it, at every
 * round of its self-fence, T_fence, its node's last catalog contact and the primaries to guard;
 * synchronous archiving ({@link ReceiverSyncCommit}), at every round of its own, the primaries whose
 * commits wait for the WAL receiver and its grace (written with the monitor's next round); on a thread of its own (the self-fence waits on no disk), it writes Keel's pulse, the watch when
 * it changed (in {@code fence-guard/} under the data directory, readable by Keel's account only:
 * it holds Keel's passwords on the servers), and starts a guard when the watch lists a primary and
 * no guard holds the directory's lock. The guard runs in a session of its own, with none of Keel's
 * environment, so that neither a {@code kill -9} of Keel nor a signal to Keel's process group ends it.
 */
@Singleton
final class FenceGuards {
    private static final Logger LOG = LoggerFactory.getLogger(FenceGuards.class);
    private static final Path SETSID = Path.of("/usr/bin/setsid");
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    /** A guard's log past this is moved aside (one generation kept) as a guard starts. */
    private static final long LOG_KEPT_BYTES = 1024 * 1024;

    private final Path dir;
    private final CertificateAuthority authority;
    private final String build;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(DaemonThreads.named("keel-fence-guard-watch"));
    /** The newest state handed over and not yet written. */
    private final AtomicReference<Runnable> pending = new AtomicReference<>();
    /**
     * The primaries whose commits the guard lets go while Keel does not watch them, as synchronous
     * archiving last handed them; null until its first round has (the earlier watch's stand meanwhile).
     */
    private final AtomicReference<LetGo> letGo = new AtomicReference<>();
    /** Keel's synchronous archiving has stopped (Keel stops): the pulse no longer says it watches any primary's commits. */
    private volatile boolean commitsUnwatched;
    /** The earlier watch's, read at the first write (the watch a Keel before this one wrote). */
    private LetGo earlier;
    private String written;
    private Process guard;
    private boolean failing;
    /** The primaries the watch on disk lists for a guard that runs, as last written (none until then, or after a failure). */
    private volatile Set<UUID> covered = Set.of();

    private record LetGo(Duration grace, List<FenceWatch.Server> servers) {
    }

    FenceGuards(KeelHome home, CertificateAuthority authority, ThisNode node) {
        this.dir = home.resolve("fence-guard");
        this.authority = authority;
        this.build = node.version();
    }

    /**
     * Hands over the primaries whose commits wait for the WAL receiver (synchronous archiving), and
     * how long a commit may wait before they are let go; written with the next {@link #publish}.
     */
    void letGo(Duration grace, List<FenceWatch.Server> servers) {
        // In one order, so that the same primaries are the same watch text.
        letGo.set(new LetGo(grace, servers.stream().sorted(Comparator.comparing(FenceWatch.Server::instance)).toList()));
    }

    /**
     * Keel's synchronous archiving stops (Keel does): from the next pulse on, the guard lets the
     * commits go should they wait, even while Keel still writes pulses on its way down.
     */
    void stopWatchingCommits() {
        commitsUnwatched = true;
    }

    /**
     * Hands over T_fence, when this node last reached the catalog ({@link System#nanoTime}) and the
     * primaries to guard, or null while the self-fence does not know them yet (Keel still starting:
     * the watch an earlier Keel wrote stands, and the pulse says this self-fence does not cover it);
     * and when the self-fence last saw each primary vouched for (by its standby's reply, or the
     * standby's node); written on the writer's thread, the newest only when several wait.
     */
    void publish(Duration fenceAfter, long contactNanos, @Nullable List<FenceWatch.Server> servers, Map<UUID, Long> witnessed) {
        LetGo going = letGo.get();
        if (pending.getAndSet(() -> write(fenceAfter, servers, going, contactNanos, witnessed)) == null) {
            try {
                writer.execute(() -> pending.getAndSet(null).run());
            } catch (RejectedExecutionException stopping) {
                // Keel is stopping: the guard goes on with what it has.
            }
        }
    }

    private synchronized void write(Duration fenceAfter, @Nullable List<FenceWatch.Server> servers, @Nullable LetGo going,
                                    long contactNanos, Map<UUID, Long> witnessed) {
        try {
            LetGo listed = going != null ? going : earlierLetGo();
            FenceWatch watch = servers == null ? null
                    : new FenceWatch(build, fenceAfter, authority.certificateFile(), servers, listed.grace(), listed.servers());
            Set<UUID> watchesCommits = going == null || commitsUnwatched ? Set.of()
                    : going.servers().stream().map(FenceWatch.Server::instance).collect(Collectors.toSet());
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } else if (!Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(OWNER_ONLY)) {
                Files.setPosixFilePermissions(dir, OWNER_ONLY);
            }
            String text = watch == null ? null : watch.render();
            if (text != null && !text.equals(written)) {
                PrivateFiles.write(dir.resolve(FenceGuard.WATCH_FILE), text);
                written = text;
            }
            PrivateFiles.writeTransient(dir.resolve(FenceGuard.PULSE_FILE),
                    new FenceWatch.Pulse(contactNanos, System.nanoTime(), watch != null, witnessed, watchesCommits).render(), path -> { });
            if (watch != null && (!watch.servers().isEmpty() || !watch.letGo().isEmpty()) && (guard == null || !guard.isAlive()) && !guardRunning()) {
                guard = start();
                LOG.info("Started the fence guard (pid {}), which fences this node's primaries across a partition, and lets commits that"
                        + " wait for the WAL receiver go, while Keel does not; its log is {}", guard.pid(), dir.resolve(FenceGuard.LOG_FILE));
            }
            if (watch != null) {
                covered = watch.servers().stream().map(FenceWatch.Server::instance).collect(Collectors.toUnmodifiableSet());
            }
            failing = false;
        } catch (IOException | UncheckedIOException e) {
            covered = Set.of();
            if (!failing) {
                failing = true;
                LOG.error("Could not keep the fence guard informed or running ({}): while Keel is down, a partition would not fence this"
                        + " node's primaries; and a guard left reading an old pulse fences them once their standby stops replying for"
                        + " T_fence, as if Keel were down", e.getMessage());
            }
        }
    }

    /**
     * The primaries the watch on disk lists for their commits to be let go, and its grace: kept until
     * this Keel's synchronous archiving has handed its own, so that a Keel that starts does not take
     * them from the guard before it watches them itself (none when there is no such watch).
     */
    private LetGo earlierLetGo() {
        if (earlier == null) {
            try {
                FenceWatch onDisk = FenceWatch.parse(Files.readString(dir.resolve(FenceGuard.WATCH_FILE)));
                earlier = new LetGo(onDisk.syncGrace(), onDisk.letGo());
            } catch (IOException | RuntimeException e) {
                earlier = new LetGo(Duration.ofSeconds(5), List.of()); // none, or of another format: nothing kept
            }
        }
        return earlier;
    }

    /**
     * Whether the watch on disk lists {@code primary} for a guard that runs (one started or found
     * at that write): the guard fences it should Keel not.
     */
    boolean covers(UUID primary) {
        return covered.contains(primary);
    }

    /** Whether a guard holds the directory's lock (one this Keel started, or an earlier Keel's). */
    private boolean guardRunning() throws IOException {
        try (FileChannel channel = FileChannel.open(dir.resolve(FenceGuard.LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = channel.tryLock()) {
            return lock == null;
        } catch (OverlappingFileLockException e) {
            return true;
        }
    }

    private Process start() throws IOException {
        Path log = dir.resolve(FenceGuard.LOG_FILE);
        if (Files.isRegularFile(log, LinkOption.NOFOLLOW_LINKS) && Files.size(log) > LOG_KEPT_BYTES) {
            Files.move(log, dir.resolve(FenceGuard.LOG_FILE + ".1"), StandardCopyOption.REPLACE_EXISTING);
        }
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(SETSID)) {
            command.add(SETSID.toString());
        } else {
            LOG.warn("No {}: the fence guard stays in Keel's process group, so a signal to that group ends it too", SETSID);
        }
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // Small: it reads two files and asks a few servers one question each.
        command.addAll(List.of("-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError", "-cp",
                classPath(), FenceGuard.class.getName(), dir.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // None of Keel's secrets (the catalog's password, the store's keys) go with it.
        String path = builder.environment().get("PATH");
        builder.environment().clear();
        if (path != null) {
            builder.environment().put("PATH", path);
        }
        return builder.start();
    }

    /** This JVM's class path with absolute entries: the guard runs the same build. */
    private static String classPath() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator)).filter(entry -> !entry.isEmpty())
                .map(entry -> Path.of(entry).toAbsolutePath().toString()).collect(Collectors.joining(File.pathSeparator));
    }

    @PreDestroy
    void stop() {
        writer.shutdown();
    }
}
