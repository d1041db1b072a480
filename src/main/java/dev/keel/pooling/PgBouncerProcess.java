package dev.keel.pooling;

import dev.keel.PrivateFiles;
import dev.keel.postgres.CommandFailedException;
import dev.keel.postgres.Commands;
import dev.keel.postgres.ServerUser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * One PgBouncer process in its directory ({@code <data dir>/poolers/<database id>/}: the
 * configuration, the auth file and TLS key (0600), its pid file and log), run as the
 * {@link ServerUser} and detached, so that it outlives Keel as Postgres servers do. Found again by
 * its pid file; reloaded by SIGHUP; stopped by SIGTERM (immediate shutdown).
 */
final class PgBouncerProcess {
    private static final Duration START_PATIENCE = Duration.ofSeconds(20);
    private static final Duration STOP_PATIENCE = Duration.ofSeconds(20);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final Path dir;
    private final ServerUser user;

    PgBouncerProcess(Path dir, ServerUser user) {
        this.dir = dir;
        this.user = user;
    }

    Path ini() {
        return dir.resolve("pgbouncer.ini");
    }

    /** Creates the directory (0700, the server user's) if needed. */
    void prepare() {
        if (!Files.isDirectory(dir)) {
            user.createPrivateDirectory(dir);
        }
    }

    /** Whether {@code name} in the directory has exactly {@code text}. */
    boolean holds(String name, String text) {
        try {
            return Files.readString(dir.resolve(name)).equals(text);
        } catch (IOException e) {
            return false;
        }
    }

    boolean exists(String name) {
        return Files.isRegularFile(dir.resolve(name));
    }

    void write(String name, String text) {
        PrivateFiles.write(dir.resolve(name), text, user::own);
    }

    /** Starts it detached and waits until it has written its pid file. */
    void start(String binary) throws InterruptedException {
        user.run(List.of(binary, "-d", ini().toString()), COMMAND_TIMEOUT);
        Instant deadline = Instant.now().plus(START_PATIENCE);
        while (pid(dir).isEmpty()) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("PgBouncer did not start within " + START_PATIENCE.toSeconds() + " s; "
                        + dir.resolve("pgbouncer.log") + " says why");
            }
            Thread.sleep(20);
        }
    }

    boolean isRunning() {
        return pid(dir).isPresent();
    }

    /** Makes it reread its configuration (new server address, pool size, auth file). */
    void reload() {
        pid(dir).ifPresent(pid -> signal(pid, "HUP"));
    }

    void stop() {
        stop(dir);
    }

    /** Stops the PgBouncer of {@code dir}, if one runs. */
    static void stop(Path dir) {
        OptionalLong pid = pid(dir);
        if (pid.isEmpty()) {
            return;
        }
        signal(pid.getAsLong(), "TERM");
        Instant deadline = Instant.now().plus(STOP_PATIENCE);
        while (pid(dir).isPresent() && Instant.now().isBefore(deadline)) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        ProcessHandle.of(pid.getAsLong()).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** Stops every PgBouncer under {@code poolers} (a data directory's), as {@code keel stop} does. */
    static void stopAll(Path poolers) {
        if (!Files.isDirectory(poolers)) {
            return;
        }
        try (Stream<Path> dirs = Files.list(poolers)) {
            dirs.forEach(PgBouncerProcess::stop);
        } catch (IOException e) {
            throw new IllegalStateException("could not list " + poolers, e);
        }
    }

    /** The pid of the live PgBouncer of {@code dir}, if one runs (a stale pid file names nothing). */
    static OptionalLong pid(Path dir) {
        try {
            long pid = Long.parseLong(Files.readString(dir.resolve("pgbouncer.pid")).strip());
            boolean ours = ProcessHandle.of(pid).filter(ProcessHandle::isAlive).flatMap(p -> p.info().command())
                    .map(command -> command.endsWith("pgbouncer")).orElse(false);
            return ours && !zombie(pid) ? OptionalLong.of(pid) : OptionalLong.empty();
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static boolean zombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static void signal(long pid, String signal) {
        try {
            Commands.run(List.of("kill", "-" + signal, Long.toString(pid)), COMMAND_TIMEOUT);
        } catch (CommandFailedException e) {
            // it exited in between
        }
    }
}
