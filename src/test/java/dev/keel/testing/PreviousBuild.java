package dev.keel.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Keel built from the commit before the one under test ({@code HEAD~1}), the older version of a
 * rolling upgrade: checked out beside this build (a {@code git clone --shared}, under
 * {@code target/previous-keel/<commit>}) and packaged with the Maven that runs the tests, once per
 * commit. Its version differs from this build's (the commit is part of it, {@code ThisNode}), as
 * a release's would. A checkout without that commit (a shallow clone) fails the test that asks,
 * saying how to get it: a rolling upgrade cannot be tried without the older version.
 */
public final class PreviousBuild {
    private static final Duration GIT = Duration.ofMinutes(2);
    private static final Duration BUILD = Duration.ofMinutes(10);

    private static Path jar;

    private PreviousBuild() {
    }

    /** The previous commit's {@code target/keel.jar}, built on first use. */
    public static synchronized Path jar() {
        if (jar != null) {
            return jar;
        }
        Path project = Path.of(required("keel.test.basedir"));
        String commit = previousCommit(project);
        Path checkout = project.resolve("target").resolve("previous-keel").resolve(commit);
        Path built = checkout.resolve("target").resolve("keel.jar");
        if (!Files.isRegularFile(built)) {
            delete(checkout); // what an earlier run left half made
            run(project, GIT, "git", "-c", "safe.directory=*", "clone", "-q", "--shared", "--no-checkout", project.toString(), checkout.toString());
            run(checkout, GIT, "git", "-c", "safe.directory=*", "checkout", "-q", "--detach", commit);
            List<String> maven = new ArrayList<>(List.of(required("keel.test.maven"), "-B", "-q", "-DskipTests",
                    "-Dmaven.repo.local=" + required("keel.test.maven-repository")));
            maven.add("package");
            run(checkout, BUILD, maven.toArray(String[]::new));
            if (!Files.isRegularFile(built)) {
                throw new IllegalStateException("the build of commit " + commit + " made no " + built);
            }
        }
        jar = built;
        return jar;
    }

    /** The commit before HEAD in {@code project}; a shallow clone is deepened by one first, when its remote answers. */
    private static String previousCommit(Path project) {
        Result found = tryRun(project, GIT, "git", "-c", "safe.directory=*", "rev-parse", "--verify", "-q", "HEAD~1^{commit}");
        if (found.status() != 0 && "true".equals(tryRun(project, GIT, "git", "-c", "safe.directory=*", "rev-parse", "--is-shallow-repository").output().strip())) {
            tryRun(project, GIT, "git", "-c", "safe.directory=*", "fetch", "-q", "--deepen=1");
            found = tryRun(project, GIT, "git", "-c", "safe.directory=*", "rev-parse", "--verify", "-q", "HEAD~1^{commit}");
        }
        if (found.status() != 0) {
            throw new IllegalStateException("the rolling-upgrade test runs Keel built from the commit before HEAD, which " + project
                    + " lacks (" + found.output().strip() + "): run the tests in a clone with history (git fetch --unshallow)");
        }
        return found.output().strip();
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

    private static void run(Path directory, Duration limit, String... command) {
        Result result = tryRun(directory, limit, command);
        if (result.status() != 0) {
            String output = result.output();
            throw new IllegalStateException(String.join(" ", command) + " in " + directory + " exited with " + result.status() + ": "
                    + output.substring(Math.max(0, output.length() - 4000)));
        }
    }

    private static Result tryRun(Path directory, Duration limit, String... command) {
        try {
            Path output = Files.createTempFile("previous-build", ".log");
            try {
                Process process = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true)
                        .redirectOutput(output.toFile()).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
                if (!process.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish within " + limit.toSeconds() + " s");
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

    private static void delete(Path directory) {
        if (!Files.exists(directory)) {
            return;
        }
        run(directory.getParent(), GIT, "rm", "-rf", directory.toString());
    }
}
