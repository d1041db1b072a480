package dev.keel.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Keel built from the commit before the one under test ({@code HEAD~1}), the older version of a
 * rolling upgrade: checked out beside this build (a {@code git clone --shared}, under
 * {@code target/previous-keel/<commit>}) and packaged with the Maven that runs the tests, once per
 * commit (a marker file says the build finished; a half-made one is made anew). Its version
 * differs from this build's (the commit is part of it, {@code ThisNode}), as a release's would. A
 * shallow clone is deepened by one commit first; a checkout that still lacks it fails the test
 * that asks, saying how to get it: a rolling upgrade cannot be tried without the older version.
 * The build runs in the background from {@link #begin()}; {@link #close()} stops it if the test
 * ends first.
 */
public final class PreviousBuild implements AutoCloseable {
    private static final Duration GIT = Duration.ofMinutes(2);
    private static final Duration BUILD = Duration.ofMinutes(10);
    private static final Pattern MIGRATION = Pattern.compile("V(\\d+)__.*\\.sql");

    private final Path project = Path.of(required("keel.test.basedir"));
    private final CompletableFuture<Path> checkout;
    private volatile Process running;
    private volatile boolean closed;

    private PreviousBuild() {
        checkout = CompletableFuture.supplyAsync(this::build);
    }

    /** Starts checking out and building the previous commit, in the background. */
    public static PreviousBuild begin() {
        return new PreviousBuild();
    }

    /** Its {@code target/keel.jar}, once built. */
    public Path jar() {
        return checkout().resolve("target").resolve("keel.jar");
    }

    /** The number of the newest catalog migration it has ({@code migrations/V<n>__*.sql}). */
    public int newestMigration() {
        try (Stream<Path> files = Files.list(checkout().resolve("migrations"))) {
            return files.map(f -> MIGRATION.matcher(f.getFileName().toString())).filter(Matcher::matches)
                    .mapToInt(m -> Integer.parseInt(m.group(1))).max().orElseThrow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Path checkout() {
        try {
            return checkout.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    private Path build() {
        String commit = previousCommit();
        Path checkout = project.resolve("target").resolve("previous-keel").resolve(commit);
        Path built = checkout.resolve("target").resolve("previous-build.ok");
        if (Files.isRegularFile(built)) {
            return checkout;
        }
        if (Files.exists(checkout)) { // what an earlier run left half made
            run(project, GIT, "rm", "-rf", checkout.toString());
        }
        git(project, "clone", "-q", "--shared", "--no-checkout", project.toString(), checkout.toString());
        git(checkout, "checkout", "-q", "--detach", commit);
        // Only the jar: its tests are not compiled. Maven's JVM with C1 alone (as the tests' Keels, KeelProcess): measured on
        // 2 cores, 54 s of CPU against 92 s with its tests compiled by the default JIT, beside the other integration tests.
        run(checkout, BUILD, Map.of("MAVEN_OPTS", "-XX:TieredStopAtLevel=1"), required("keel.test.maven"), "-B", "-q",
                "-Dmaven.test.skip=true", "-Dmaven.repo.local=" + required("keel.test.maven-repository"), "package");
        try {
            Files.writeString(built, commit + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return checkout;
    }

    /** The commit before HEAD in the project; a shallow clone is deepened by one first. */
    private String previousCommit() {
        Result found = tryRun(project, GIT, gitCommand("rev-parse", "--verify", "-q", "HEAD~1^{commit}"));
        if (found.status() != 0 && "true".equals(tryRun(project, GIT, gitCommand("rev-parse", "--is-shallow-repository")).output().strip())) {
            tryRun(project, GIT, gitCommand("fetch", "-q", "--deepen=1"));
            found = tryRun(project, GIT, gitCommand("rev-parse", "--verify", "-q", "HEAD~1^{commit}"));
        }
        if (found.status() != 0) {
            throw new IllegalStateException("the rolling-upgrade test runs Keel built from the commit before HEAD, which " + project
                    + " lacks (" + found.output().strip() + "): run the tests in a clone with history (git fetch --unshallow)");
        }
        return found.output().strip();
    }

    /** Stops the build if it still runs (the test ended first). */
    @Override
    public void close() {
        closed = true;
        Process process = running;
        if (process != null) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static String[] gitCommand(String... arguments) {
        // As root in a checkout another user owns, git refuses the repository unless told it is safe.
        return Stream.concat(Stream.of("git", "-c", "safe.directory=*"), Stream.of(arguments)).toArray(String[]::new);
    }

    private void git(Path directory, String... arguments) {
        run(directory, GIT, gitCommand(arguments));
    }

    private static String required(String property) {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("system property " + property + " is unset: integration tests run with mvn verify (pom.xml sets it)");
        }
        return value;
    }

    private record Result(int status, String output) {
    }

    private void run(Path directory, Duration limit, String... command) {
        run(directory, limit, Map.of(), command);
    }

    /** Runs {@code command} with {@code env} added to its environment; fails unless it exits with 0. */
    private void run(Path directory, Duration limit, Map<String, String> env, String... command) {
        Result result = tryRun(directory, limit, env, command);
        if (result.status() != 0) {
            String output = result.output();
            throw new IllegalStateException(String.join(" ", command) + " in " + directory + " exited with " + result.status() + ": "
                    + output.substring(Math.max(0, output.length() - 4000)));
        }
    }

    private Result tryRun(Path directory, Duration limit, String... command) {
        return tryRun(directory, limit, Map.of(), command);
    }

    private Result tryRun(Path directory, Duration limit, Map<String, String> env, String... command) {
        if (closed) {
            throw new IllegalStateException("the previous commit's build was stopped: its test ended");
        }
        try {
            Path output = Files.createTempFile("previous-build", ".log");
            try {
                ProcessBuilder builder = new ProcessBuilder(List.of(command)).directory(directory.toFile()).redirectErrorStream(true)
                        .redirectOutput(output.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
                builder.environment().putAll(env);
                Process process = builder.start();
                running = process;
                try {
                    if (!process.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                        process.descendants().forEach(ProcessHandle::destroyForcibly);
                        process.destroyForcibly();
                        throw new IllegalStateException(String.join(" ", command) + " did not finish within " + limit.toSeconds() + " s");
                    }
                } finally {
                    running = null;
                }
                return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
            } finally {
                Files.deleteIfExists(output);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
