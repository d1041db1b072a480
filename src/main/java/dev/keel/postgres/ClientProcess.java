package dev.keel.postgres;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 * A Postgres client program ({@code pg_dump}, {@code pg_restore}, {@code psql}) running as the
 * {@link ServerUser}, with only the environment it needs: where to connect and the password as
 * libpq variables, TLS verified against the installation CA, nothing of Keel's own environment.
 * Its standard output (or input) is a stream for the caller; what it says on standard error goes
 * to a temporary file whose tail explains a failure.
 */
public final class ClientProcess implements AutoCloseable {
    private static final Set<String> INHERITED = Set.of("PATH", "TZ");
    private static final int ERROR_TAIL = 4000;

    private final Process process;
    private final Path errors;
    private final String program;

    private ClientProcess(Process process, Path errors, String program) {
        this.process = process;
        this.errors = errors;
        this.program = program;
    }

    /**
     * Where a client connects: {@code sslmode=verify-full} against {@code caFile}; {@code options}
     * are startup settings ({@code -c search_path=...}), empty for none.
     */
    public record Target(String host, int port, String user, String password, String database, Path caFile, String options) {
        Map<String, String> environment() {
            return Map.of("PGHOST", host, "PGPORT", Integer.toString(port), "PGUSER", user, "PGPASSWORD", password,
                    "PGDATABASE", database, "PGSSLMODE", "verify-full", "PGSSLROOTCERT", caFile.toString(),
                    "PGCONNECT_TIMEOUT", "10", "PGAPPNAME", "keel", "PGOPTIONS", options);
        }

        @Override
        public String toString() {
            return user + "@" + host + ":" + port + "/" + database;
        }
    }

    /** What the caller reads or writes: the program's standard output, or its standard input. */
    public enum Stream { OUTPUT, INPUT }

    /** Starts {@code argv} (its first element the program) as {@code user} against {@code target}; {@code stream} is piped. */
    public static ClientProcess start(ServerUser user, List<String> argv, Target target, Stream stream) {
        Path errors = null;
        try {
            errors = Files.createTempFile("keel-client-", ".err");
            ProcessBuilder builder = new ProcessBuilder(user.command(argv)).redirectError(errors.toFile());
            if (stream == Stream.OUTPUT) {
                builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            } else {
                builder.redirectOutput(ProcessBuilder.Redirect.appendTo(errors.toFile()));
            }
            Map<String, String> env = builder.environment();
            env.keySet().retainAll(INHERITED);
            env.put("LC_ALL", "C");
            env.put("HOME", "/nonexistent");
            env.putAll(target.environment());
            return new ClientProcess(builder.start(), errors, Path.of(argv.get(0)).getFileName().toString());
        } catch (IOException e) {
            deleteQuietly(errors);
            throw new UncheckedIOException("could not start " + argv.get(0), e);
        }
    }

    public InputStream output() {
        return process.getInputStream();
    }

    public OutputStream input() {
        return process.getOutputStream();
    }

    public String program() {
        return program;
    }

    /** Waits for the program to end; its exit status, or -1 (and it is killed) after {@code timeout}. */
    public int waitFor(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
            return -1;
        }
        return process.exitValue();
    }

    /** Ends the program at once (SIGKILL); nothing if it ended already. */
    public void kill() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The end of what the program wrote to standard error (and, with piped input, standard output). */
    public String errors() {
        try {
            String text = Files.readString(errors, StandardCharsets.UTF_8);
            return text.length() <= ERROR_TAIL ? text.strip() : "..." + text.substring(text.length() - ERROR_TAIL).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** Every line the program wrote to standard error. */
    public List<String> errorLines() {
        try {
            return Files.readAllLines(errors, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return List.of();
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
        deleteQuietly(errors);
    }

    private static void deleteQuietly(Path file) {
        if (file == null) {
            return;
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // a leftover temporary file is harmless
        }
    }
}
