package dev.keel.replication;

import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.tls.CertificateAuthority;
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
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Keeps this node's {@link FenceGuard} informed and running: the HA monitor hands it the watch
 * at every round of its self-fence; the watch is written (in {@code fence-guard/} under the data
 * directory, readable by Keel's account only: it holds Keel's passwords on the servers) when it
 * changed, and a guard is started when the watch lists a primary and no guard holds the directory's
 * lock. The guard runs in a session of its own, so that neither a {@code kill -9} of Keel nor a
 * signal to Keel's process group ends it.
 */
@Singleton
final class FenceGuards {
    private static final Logger LOG = LoggerFactory.getLogger(FenceGuards.class);
    private static final Path SETSID = Path.of("/usr/bin/setsid");

    private final Path dir;
    private final CertificateAuthority authority;
    private String written;
    private Process guard;

    FenceGuards(KeelHome home, CertificateAuthority authority) {
        this.dir = home.resolve("fence-guard");
        this.authority = authority;
    }

    /** The guard's directory: its watch, lock and log. */
    Path dir() {
        return dir;
    }

    /**
     * Writes the watch (T_fence, when this node last reached the catalog, the primaries to fence)
     * when it changed, and starts a guard when it lists a primary and none runs.
     */
    synchronized void publish(Duration fenceAfter, long contactNanos, List<FenceWatch.Server> servers) {
        FenceWatch watch = new FenceWatch(fenceAfter, contactNanos, authority.certificateFile(), servers);
        String text = watch.render();
        try {
            if (!text.equals(written)) {
                if (!Files.isDirectory(dir)) {
                    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                }
                PrivateFiles.write(dir.resolve(FenceGuard.WATCH_FILE), text);
                written = text;
            }
            if (!watch.servers().isEmpty() && (guard == null || !guard.isAlive()) && !guardRunning()) {
                guard = start();
                LOG.info("Started the fence guard (pid {}), which fences this node's primaries across a partition while Keel does not;"
                        + " its log is {}", guard.pid(), dir.resolve(FenceGuard.LOG_FILE));
            }
        } catch (IOException | UncheckedIOException e) {
            LOG.error("Could not keep the fence guard informed or running ({}): while Keel is down, a partition would not fence this"
                    + " node's primaries", e.getMessage());
        }
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
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(SETSID)) {
            command.add(SETSID.toString());
        }
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        // Small: it reads a file and asks a few servers one question each.
        command.addAll(List.of("-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError", "-cp",
                classPath(), FenceGuard.class.getName(), dir.toString()));
        return new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(FenceGuard.LOG_FILE).toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    /** This JVM's class path with absolute entries: the guard runs the same build. */
    private static String classPath() {
        return Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator)).filter(entry -> !entry.isEmpty())
                .map(entry -> Path.of(entry).toAbsolutePath().toString()).collect(Collectors.joining(File.pathSeparator));
    }
}
