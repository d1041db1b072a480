package dev.keel.postgres;

import dev.keel.PrivateFiles;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** initdb and pg_ctl, each run as the {@link ServerUser} the server belongs to. */
@Singleton
public final class ServerCommands {
    private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration START_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    /**
     * Initialises {@code dataDir} with data checksums, UTF-8 and the C locale, and a superuser
     * {@code superuser} whose SCRAM password is {@code password}. The parent directory must
     * belong to the server user. The password passes through a 0600 file that is removed after.
     */
    public void initdb(ServerUser user, Installation installation, Path dataDir, String superuser, String password) {
        Path pwfile = dataDir.resolveSibling(".initdb-pw");
        try {
            PrivateFiles.write(pwfile, password + "\n", user::own);
            user.run(List.of(installation.initdb(), "-D", dataDir.toString(), "-U", superuser, "--pwfile=" + pwfile,
                    "--auth=scram-sha-256", "--data-checksums", "--encoding=UTF8", "--locale=C", "--no-instructions"),
                    INITDB_TIMEOUT);
        } finally {
            try {
                Files.deleteIfExists(pwfile);
            } catch (IOException ignored) {
                // removed with the instance directory at the latest
            }
        }
    }

    /** Starts the server detached (it outlives Keel) and waits until it accepts connections. */
    public void start(ServerUser user, Installation installation, Path dataDir, Path logFile) {
        user.run(List.of(installation.pgCtl(), "start", "-D", dataDir.toString(), "-l", logFile.toString(),
                "-w", "-t", Long.toString(START_TIMEOUT.toSeconds())), START_TIMEOUT.plusSeconds(10));
    }

    /**
     * Starts the server detached without waiting for it to take connections (recovery may take
     * long), with {@code options} as command-line settings of this start only (nothing in the
     * configuration files, so none of them lingers after it). Values must be single words.
     */
    public void startDetached(ServerUser user, Installation installation, Path dataDir, Path logFile, Map<String, String> options) {
        StringBuilder line = new StringBuilder();
        options.forEach((name, value) -> {
            if (!name.matches("[a-z_]+") || !value.matches("[A-Za-z0-9_.:+-]+")) {
                throw new IllegalArgumentException("not a single-word setting: " + name + "=" + value);
            }
            line.append(line.length() == 0 ? "" : " ").append("-c ").append(name).append('=').append(value);
        });
        List<String> command = new ArrayList<>(List.of(installation.pgCtl(), "start", "-D", dataDir.toString(), "-l",
                logFile.toString(), "-W"));
        if (line.length() > 0) {
            command.addAll(List.of("-o", line.toString()));
        }
        user.run(command, Duration.ofSeconds(60));
    }

    /** Fast shutdown; escalates by signal when pg_ctl cannot finish it. */
    public void stop(ServerUser user, Installation installation, Path dataDir) {
        if (!Postmaster.isRunning(dataDir)) {
            return;
        }
        try {
            user.run(List.of(installation.pgCtl(), "stop", "-D", dataDir.toString(), "-m", "fast", "-w",
                    "-t", Long.toString(STOP_TIMEOUT.toSeconds())), STOP_TIMEOUT.plusSeconds(10));
        } catch (CommandFailedException e) {
            Postmaster.stop(dataDir, Duration.ofSeconds(10));
        }
    }
}
