package dev.keel.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Keel as its own JVM, started from {@code target/keel.jar} as the README says (with a test-only
 * JIT option, {@link #TEST_JVM_OPTIONS}, and a class archive, {@link #classArchive()}), on a data
 * directory, configured through environment variables as an operator would, so that tests can
 * {@code kill -9} it. Only integration tests ({@code *IT}, run by {@code mvn verify} after the
 * jar is built) use it.
 */
public final class KeelProcess implements AutoCloseable {
    /** Without a warm pool: every provision makes its instance, and every instance directory belongs to a database. */
    public static final Map<String, String> NO_POOL = Map.of("KEEL_INSTANCES_POOL_SIZE", "0");

    private final Process process;
    private final Path log;
    private final Api api;

    private KeelProcess(Process process, Path log, Api api) {
        this.process = process;
        this.log = log;
        this.api = api;
    }

    /** The JVM options of the README's command. */
    public static final List<String> README_JVM_OPTIONS = List.of("-XX:+ExitOnOutOfMemoryError");

    /** Starts Keel on {@code dataDir} and waits until it serves; {@code env} adds or overrides variables. */
    public static KeelProcess start(Path dataDir, TestKeel.Ports ports, String logName, Map<String, String> env) {
        return start(dataDir, ports, logName, env, README_JVM_OPTIONS);
    }

    /** As {@link #start(Path, TestKeel.Ports, String, Map)}, with these JVM options instead of the README's. */
    public static KeelProcess start(Path dataDir, TestKeel.Ports ports, String logName, Map<String, String> env, List<String> jvmOptions) {
        // Its S3Proxy starts as the tests' do (S3ProxyJvm); one started with another command (the image's) as that says.
        Map<String, String> withS3Options = new java.util.HashMap<>(Map.of("KEEL_S3_EMBEDDED_JVM_OPTIONS", S3ProxyJvm.optionsLine()));
        withS3Options.putAll(env);
        return start(command(jvmOptions), dataDir, ports, logName, withS3Options);
    }

    /** As {@link #start(Path, TestKeel.Ports, String, Map)}, with another start command (the image's, say). */
    public static KeelProcess start(List<String> command, Path dataDir, TestKeel.Ports ports, String logName, Map<String, String> env) {
        int port = freePort();
        Path log = dataDir.resolveSibling(dataDir.getFileName() + "-" + logName + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("KEEL_DATA_DIR", dataDir.toString());
        builder.environment().put("KEEL_PORT", Integer.toString(port));
        builder.environment().put("KEEL_POSTGRES_INSTALL_DIR", TestKeel.sharedInstallDir().toString());
        builder.environment().put("KEEL_INSTANCES_PORTS", ports.instances());
        builder.environment().put("KEEL_CATALOG_PORTS", ports.catalog());
        builder.environment().put("KEEL_S3_EMBEDDED_PORTS", ports.s3());
        builder.environment().put("KEEL_POOLING_PORTS", ports.poolers());
        builder.environment().put("KEEL_BACKUPS_DOWNLOAD_PORT", "0");
        builder.environment().putAll(env);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // Bound beyond loopback, Keel speaks only HTTPS, with a certificate from its CA (ca.pem, written as it starts) for
        // the bind address, or for localhost when bound to all. A Keel on another "host" (Hosts) is reached at its address.
        String bind = builder.environment().getOrDefault("KEEL_BIND", "127.0.0.1");
        boolean wildcard = List.of("0.0.0.0", "::", "*").contains(bind);
        boolean tls = wildcard || !isLoopback(bind);
        String apiUrl = tls ? "https://" + (wildcard ? "localhost" : bind) + ":" + port : "http://127.0.0.1:" + port;
        Path caFile = dataDir.resolve("ca.pem");
        Api[] anonymous = new Api[1];
        Wait.until("Keel on " + dataDir + " to serve (log: " + log + ")", Timeouts.KEEL_START, () -> {
            if (!process.isAlive()) {
                throw new AssertionError("Keel exited with " + process.exitValue() + ":\n" + read(log));
            }
            if (anonymous[0] == null) {
                if (tls && !Files.exists(caFile)) {
                    return false;
                }
                try {
                    anonymous[0] = tls ? Api.trusting(apiUrl, null, caFile) : new Api(apiUrl, null);
                } catch (RuntimeException e) {
                    return false; // the CA file is being written
                }
            }
            try {
                return anonymous[0].get("/health").status() == 200;
            } catch (UncheckedIOException e) {
                return false;
            }
        });
        // /health answers as soon as the server listens, a moment before Keel prints its banner: wait for the whole banner,
        // so that a test reading the log sees what Keel says at its start (or that it does not say something).
        Wait.until("Keel's start-up banner (log: " + log + ")", Timeouts.KEEL_START, () -> bannerPrinted(read(log)));
        String key;
        try {
            key = Files.readString(dataDir.resolve("admin-api-key")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new KeelProcess(process, log, anonymous[0].withKey(key));
    }

    /**
     * {@code java -XX:+ExitOnOutOfMemoryError -jar target/keel.jar}, as the README says (after
     * {@link #TEST_JVM_OPTIONS} and the {@link #classArchive()}), then {@code extraArguments}.
     */
    public static List<String> command(String... extraArguments) {
        List<String> command = command(README_JVM_OPTIONS);
        command.addAll(List.of(extraArguments));
        return command;
    }

    /**
     * Added to every Keel the tests start from the jar: the integration tests start about 80, each
     * for seconds to minutes, and a start spent about a third of its 15 s of CPU in C2 compilations
     * that a test never lives to use. Measured on 2 cores: 10-11 s of CPU to serve with C1 only,
     * 14-18 s without; ArchiveCrashIT and RestoreCrashIT together 192 s of CPU against 233 s. (The
     * test JVM itself, which lives for the whole run, needs C2: 40% more CPU without.) What the
     * tests check does not depend on the JIT; {@code ImageStartCommandIT} runs the image's own
     * command.
     */
    private static final List<String> TEST_JVM_OPTIONS = List.of("-XX:TieredStopAtLevel=1");

    private static List<String> command(List<String> jvmOptions) {
        List<String> options = new ArrayList<>(jvmOptions);
        classArchive().ifPresent(archive -> options.add(0, "-XX:SharedArchiveFile=" + archive));
        return javaCommand(options);
    }

    /** The README's command for another build's jar ({@link PreviousBuild}), without the class archive, which is this build's. */
    public static List<String> command(Path jar) {
        return javaCommand(README_JVM_OPTIONS, jar);
    }

    private static List<String> javaCommand(List<String> jvmOptions) {
        String jar = System.getProperty("keel.test.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("no keel.jar to run (" + jar + "): integration tests run with mvn verify, after package");
        }
        return javaCommand(jvmOptions, Path.of(jar));
    }

    private static List<String> javaCommand(List<String> jvmOptions, Path jar) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(TEST_JVM_OPTIONS);
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString()));
        return command;
    }

    /** The class archive, once made: absent until the first Keel asks, and for good if it could not be made. */
    private static Optional<Path> classArchive;

    /**
     * A class-data-sharing archive of the classes a Keel loads (the JDK's dynamic CDS), made once
     * per test JVM by a training Keel that starts, serves and stops in order before any test's Keel
     * starts, and mapped by every Keel the tests start: a start otherwise loads, parses and verifies
     * its thousands of classes from the jar each time. Measured on 2 cores: 12.3 and 11.3 s of CPU
     * to serve with the archive, 15.4 and 13.8 s without (the integration tests start about 80);
     * making it costs one start. It changes no behaviour: the JVM runs without an archive that does
     * not match its jar, and the tests start without one that could not be made. Keel started as
     * the README says makes none.
     */
    private static synchronized Optional<Path> classArchive() {
        if (classArchive != null) {
            return classArchive;
        }
        Path archive = TestKeel.workDir().resolve("keel-classes.jsa");
        Path making = TestKeel.workDir().resolve("keel-classes.making.jsa");
        classArchive = Optional.empty();
        try {
            Files.deleteIfExists(archive);
            Files.deleteIfExists(making);
            Path dataDir = TestKeel.freshDataDir("keel-classes");
            try {
                start(javaCommand(List.of("-XX:ArchiveClassesAtExit=" + making, README_JVM_OPTIONS.get(0))), dataDir, TestKeel.nextPorts(),
                        "training", NO_POOL).stop();
            } finally {
                // Should it not have started or stopped in time, it goes (its command line names the archive it makes), and so
                // do its servers, as a fresh data directory's would.
                ProcessHandle.allProcesses().filter(p -> p.info().commandLine().map(c -> c.contains(making.toString())).orElse(false))
                        .forEach(ProcessHandle::destroyForcibly);
                TestKeel.freshDataDir("keel-classes");
            }
            if (Files.isRegularFile(making)) {
                Files.move(making, archive, StandardCopyOption.ATOMIC_MOVE);
                classArchive = Optional.of(archive);
            } else {
                System.err.println("No class archive for the test Keels (the training Keel stopped without writing one; its log: "
                        + dataDir.resolveSibling("keel-classes-training.log") + "): they start without");
            }
        } catch (IOException | RuntimeException | AssertionError e) {
            System.err.println("No class archive for the test Keels (" + e + "): they start without");
        }
        return classArchive;
    }

    /** The JVM's process (the start command execs it). */
    public ProcessHandle handle() {
        return process.toHandle();
    }

    /** Waits for Keel to exit on its own, and returns its exit status. */
    public int awaitExit(java.time.Duration patience) throws InterruptedException {
        if (!process.waitFor(patience.toSeconds(), TimeUnit.SECONDS)) {
            throw new AssertionError("Keel did not exit within " + patience.toSeconds() + " s:\n" + read(log));
        }
        return process.exitValue();
    }

    public Api api() {
        return api;
    }

    /** The JVM's process id (for /proc/<pid>/status, jcmd). */
    public long pid() {
        return process.pid();
    }

    /** Whether the log holds the whole start-up banner: "Keel is running." up to the blank line that ends it. */
    static boolean bannerPrinted(String log) {
        int start = log.indexOf("\nKeel is running.\n");
        return start >= 0 && log.indexOf("\n\n", start + 1) >= 0;
    }

    /** What Keel printed so far. */
    public String log() {
        return read(log);
    }

    /** {@code kill -9}: no shutdown hook runs. */
    public void kill9() {
        process.destroyForcibly();
        awaitExit();
    }

    /** {@code kill} (SIGTERM): Keel shuts down in order. */
    public void stop() {
        signalStop();
        awaitExit();
    }

    /** Sends SIGTERM without waiting. */
    public void signalStop() {
        process.destroy();
    }

    public Optional<Integer> exitCode() {
        return process.isAlive() ? Optional.empty() : Optional.of(process.exitValue());
    }

    private void awaitExit() {
        try {
            if (!process.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("Keel did not exit within " + Timeouts.PROCESS_EXIT.toSeconds() + " s; its threads:\n"
                        + threadDump() + "\n--- the end of its log:\n" + tail(read(log), 200));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** What each of Keel's threads is doing ({@code jcmd Thread.print}): why a stop overran. */
    private String threadDump() throws InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        try {
            Process dump = new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), "Thread.print").redirectErrorStream(true).start();
            String out = new String(dump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            dump.waitFor(30, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            return "(no thread dump: " + e.getMessage() + ")";
        }
    }

    private static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            awaitExit();
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean isLoopback(String address) {
        try {
            return InetAddress.getByName(address).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** A port free on loopback now. */
    public static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
