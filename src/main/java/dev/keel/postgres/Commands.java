package dev.keel.postgres;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs a child process to completion. Output goes to a temporary file, not a pipe: pg_ctl leaves
 * a postmaster behind, and a pipe inherited by a long-lived grandchild would never reach EOF.
 */
public final class Commands {
    private static final int OUTPUT_TAIL = 4000;
    private static final Set<String> INHERITED = Set.of("PATH", "TZ");

    private Commands() {
    }

    /** Runs {@code argv}, returning its output; throws {@link CommandFailedException} on a non-zero exit or timeout. */
    public static String run(List<String> argv, Duration timeout) {
        Path out = null;
        try {
            out = Files.createTempFile("keel-cmd-", ".out");
            ProcessBuilder builder = new ProcessBuilder(argv)
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            // Children get only what they need: Keel's environment holds KEEL_SECRET_KEY and the
            // catalog password, which the server account could otherwise read from /proc/<pid>/environ,
            // and PG* variables that would steer libpq and the server.
            Map<String, String> env = builder.environment();
            env.keySet().retainAll(INHERITED);
            env.put("LC_ALL", "C");
            Process process = builder.start();
            boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
            String output = tail(Files.readString(out, StandardCharsets.UTF_8));
            int exit = finished ? process.exitValue() : -1;
            if (exit != 0) {
                throw new CommandFailedException(describe(argv), exit, output);
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + describe(argv), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + describe(argv), e);
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // a leftover temporary file is harmless
                }
            }
        }
    }

    /** The program name without the privilege-switching prefix, for messages. */
    private static String describe(List<String> argv) {
        int start = argv.indexOf("--") + 1;
        return Path.of(argv.get(start)).getFileName().toString();
    }

    private static String tail(String output) {
        return output.length() <= OUTPUT_TAIL ? output : "..." + output.substring(output.length() - OUTPUT_TAIL);
    }
}
