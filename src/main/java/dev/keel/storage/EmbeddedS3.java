package dev.keel.storage;

import dev.keel.Fsync;
import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.RandomStrings;
import dev.keel.StartupException;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.postgres.PortRange;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The S3-compatible server Keel runs when no object store is configured: S3Proxy
 * ({@code org.gaul:s3proxy}, fetched like the Postgres binaries) as a child JVM on loopback,
 * keeping objects under {@code <data dir>/s3/data} with the filesystem-nio2 back end, with
 * credentials generated once. Keel stops it when it stops, and kills one a crashed Keel left.
 */
@Singleton
public final class EmbeddedS3 {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedS3.class);
    private static final MavenArtifacts.Coordinates S3PROXY =
            new MavenArtifacts.Coordinates("org.gaul", "s3proxy", "2.6.0", "jar-with-dependencies");
    private static final String LOOPBACK = "127.0.0.1";
    private static final String BUCKET = "keel";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final int START_ATTEMPTS = 5;

    private final Path dir;
    private final MavenArtifacts artifacts;
    private final PortRange ports;
    private final List<String> jvmOptions;
    private Process process;

    public EmbeddedS3(KeelHome home, MavenArtifacts artifacts, @Value("${keel.s3.embedded-ports}") String ports,
               @Value("${keel.s3.embedded-jvm-options:}") String jvmOptions) {
        this.dir = home.resolve("s3");
        this.artifacts = artifacts;
        this.ports = PortRange.parse(ports);
        this.jvmOptions = jvmOptions.isBlank() ? List.of() : List.of(jvmOptions.strip().split("\\s+"));
    }

    /** Starts S3Proxy (stopping one a crashed Keel left running) and says how to reach it. */
    public synchronized S3Settings start() {
        try {
            Files.createDirectories(dir.resolve("data"));
            // Every database's backups and WAL: closed to all but Keel's account, whatever the data directory's own mode
            // (an older layout leaves it searchable for Postgres' accounts).
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            stopLeftover();
            Properties credentials = credentials();
            Set<Integer> lost = new HashSet<>();
            for (int attempt = 1; ; attempt++) {
                int port = ports.firstFree(lost, p -> PortRange.bindable(LOOPBACK, p))
                        .orElseThrow(() -> new StartupException("no free port for the embedded S3 server in " + ports
                                + "; set KEEL_S3_EMBEDDED_PORTS to a range with a free port"));
                if (launch(credentials, port)) {
                    String endpoint = "http://" + LOOPBACK + ":" + port;
                    LOG.info("Embedded S3 (S3Proxy) serving {} from {}", endpoint, dir.resolve("data"));
                    return new S3Settings(endpoint, "us-east-1", BUCKET, credentials.getProperty("identity"),
                            credentials.getProperty("credential"));
                }
                // Another process took the port between the check and S3Proxy's bind.
                lost.add(port);
                if (attempt == START_ATTEMPTS) {
                    throw new StartupException("the embedded S3 server could not bind a port in " + ports + " after " + attempt
                            + " attempts; see " + dir.resolve("s3proxy.log"));
                }
            }
        } catch (IOException e) {
            throw new StartupException("could not start the embedded S3 server under " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Starts S3Proxy on {@code port}; false when it exited instead of listening there (it lost the port). */
    private boolean launch(Properties credentials, int port) throws IOException {
        String endpoint = "http://" + LOOPBACK + ":" + port;
        Path config = dir.resolve("s3proxy.properties");
        PrivateFiles.write(config, String.join("\n",
                "s3proxy.endpoint=" + endpoint,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + credentials.getProperty("identity"),
                "s3proxy.credential=" + credentials.getProperty("credential"),
                "s3proxy.ignore-unknown-headers=true",
                "jclouds.provider=filesystem-nio2",
                "jclouds.filesystem.basedir=" + dir.resolve("data"),
                // S3Proxy 2.6 refuses to start without these, even for a filesystem back end.
                "jclouds.identity=keel",
                "jclouds.credential=keel") + "\n");
        Path jar = artifacts.resolve(S3PROXY, dir.resolve("downloads"));
        ProcessBuilder builder = new ProcessBuilder(command(jar, jvmOptions, config))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("s3proxy.log").toFile()));
        builder.environment().keySet().retainAll(Set.of("PATH", "TZ"));
        process = builder.start();
        Files.writeString(dir.resolve("s3proxy.pid"), Long.toString(process.pid()));
        // A Keel that exits without shutting down its beans (a failed start) still takes S3Proxy with it.
        Process started = process;
        Runtime.getRuntime().addShutdownHook(new Thread(started::destroy, "keel-s3proxy-stop"));
        return awaitListening(port);
    }

    /** The command that runs S3Proxy's {@code jar} with {@code config} on this JVM's Java: 256 MB of heap, then {@code jvmOptions}. */
    public static List<String> command(Path jar, List<String> jvmOptions, Path config) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString(), "--properties", config.toString()));
        return command;
    }

    private Properties credentials() throws IOException {
        Path file = dir.resolve("credentials.properties");
        Properties credentials = new Properties();
        if (Files.isRegularFile(file)) {
            credentials.load(new StringReader(Files.readString(file)));
            return credentials;
        }
        credentials.setProperty("identity", "keel" + RandomStrings.lowerAlphanumeric(12));
        credentials.setProperty("credential", RandomStrings.alphanumeric(40));
        StringWriter text = new StringWriter();
        credentials.store(text, "embedded S3 credentials; keep private");
        PrivateFiles.write(file, text.toString());
        return credentials;
    }

    /**
     * Waits until our S3Proxy holds a listening socket on {@code port}: a connection that
     * succeeds could reach another process that has the port. False when S3Proxy exited.
     */
    private boolean awaitListening(int port) {
        Instant deadline = Instant.now().plus(START_TIMEOUT);
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                return false;
            }
            if (ListeningSockets.held(process.pid(), port)) {
                return true;
            }
            sleep(50);
        }
        process.destroyForcibly();
        throw new StartupException("the embedded S3 server did not listen within " + START_TIMEOUT.toSeconds() + " s; see "
                + dir.resolve("s3proxy.log"));
    }

    /** A Keel killed with -9 leaves its S3Proxy running; it would hold the port and the files. */
    private void stopLeftover() throws IOException {
        Path pidFile = dir.resolve("s3proxy.pid");
        if (!Files.isRegularFile(pidFile)) {
            return;
        }
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        ProcessHandle.of(pid)
                .filter(p -> p.info().commandLine().map(c -> c.contains("s3proxy")).orElse(false))
                .ifPresent(p -> {
                    LOG.info("Stopping the embedded S3 server (pid {}) a previous Keel left running", pid);
                    p.destroy();
                    waitFor(p);
                });
        Files.deleteIfExists(pidFile);
    }

    /** Whether this Keel started S3Proxy (no other object store is configured). */
    public synchronized boolean started() {
        return process != null;
    }

    /**
     * Makes object {@code key} of {@code bucket}, just stored, survive a power cut: S3Proxy's
     * filesystem back end writes and renames files without fsync, so Keel fsyncs the file and every
     * directory from its own up to the bucket's before anyone hears the object is stored.
     */
    public void sync(String bucket, String key) {
        Path bucketDir = dir.resolve("data").resolve(bucket).toAbsolutePath().normalize();
        Path file = bucketDir.resolve(key).normalize();
        if (!file.startsWith(bucketDir) || file.equals(bucketDir)) {
            throw new StorageException("object key " + key + " lies outside the embedded store's bucket");
        }
        try {
            Fsync.force(file);
            for (Path directory = file.getParent(); directory.startsWith(bucketDir); directory = directory.getParent()) {
                Fsync.force(directory);
            }
        } catch (ClosedByInterruptException e) {
            // The caller was interrupted (a WAL stream being stopped): no failure of the store, as with the S3 client.
            throw new StorageException.Interrupted("stored " + key + " in the embedded store, but was interrupted before its fsync", e);
        } catch (IOException e) {
            throw new StorageException("stored " + key + " in the embedded store, but could not fsync it: " + e.getMessage()
                    + "; it may not survive a power cut, so it does not count as stored", e);
        }
    }

    /** The process of the running S3Proxy (for tests that make the store hang). */
    public synchronized ProcessHandle process() {
        return process.toHandle();
    }

    @PreDestroy
    public synchronized void stop() {
        if (process != null && process.isAlive()) {
            process.destroy();
            waitFor(process.toHandle());
        }
        try {
            Files.deleteIfExists(dir.resolve("s3proxy.pid"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void waitFor(ProcessHandle process) {
        try {
            process.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
