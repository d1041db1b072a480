package dev.keel.postgres;

import dev.keel.StartupException;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The OS account Postgres processes run as. {@code initdb} and {@code postgres} refuse to run as
 * root, so when Keel runs as root it starts them through {@code setpriv} as an unprivileged
 * user ({@code keel.postgres.os-user}, else {@code postgres} if it exists, else a {@code keel}
 * system user it creates) and hands that user the directories Postgres writes. Otherwise they
 * run as Keel's own user.
 */
@Singleton
public final class ServerUser {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final boolean switching;
    private final String name;
    private final int uid;
    private final int gid;

    ServerUser(PostgresConfig config) {
        this.switching = new com.sun.security.auth.module.UnixSystem().getUid() == 0;
        if (!switching) {
            this.name = System.getProperty("user.name");
            this.uid = -1;
            this.gid = -1;
            return;
        }
        this.name = chooseAccount(config.getOsUser());
        this.uid = Integer.parseInt(Commands.run(List.of("id", "-u", name), TIMEOUT).strip());
        this.gid = Integer.parseInt(Commands.run(List.of("id", "-g", name), TIMEOUT).strip());
        if (!Files.isExecutable(Path.of("/usr/bin/setpriv")) && !Files.isExecutable(Path.of("/bin/setpriv"))) {
            throw new StartupException("Keel runs as root and needs setpriv (util-linux) to start Postgres as user '" + name
                    + "'; install util-linux or run Keel as an unprivileged user.");
        }
    }

    private static String chooseAccount(String configured) {
        if (!configured.isBlank()) {
            if (!exists(configured)) {
                throw new StartupException("keel.postgres.os-user '" + configured + "' does not exist; create it or unset KEEL_POSTGRES_OS_USER.");
            }
            return configured;
        }
        if (exists("postgres")) {
            return "postgres";
        }
        if (!exists("keel")) {
            try {
                Commands.run(List.of("useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "keel"), TIMEOUT);
            } catch (RuntimeException e) {
                throw new StartupException("Keel runs as root and could not create the unprivileged user 'keel' for Postgres ("
                        + e.getMessage() + "); create a user and set KEEL_POSTGRES_OS_USER, or run Keel as a non-root user.");
            }
        }
        return "keel";
    }

    private static boolean exists(String account) {
        try {
            Commands.run(List.of("id", "-u", account), TIMEOUT);
            return true;
        } catch (CommandFailedException e) {
            return false;
        }
    }

    public String name() {
        return name;
    }

    /** {@code argv} as a command that runs as this user. */
    public List<String> command(List<String> argv) {
        List<String> full = new ArrayList<>();
        if (switching) {
            full.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
        }
        full.add("--");
        full.addAll(argv);
        return switching ? full : full.subList(1, full.size());
    }

    /** Runs {@code argv} as this user. */
    public String run(List<String> argv, Duration timeout) {
        return Commands.run(command(argv), timeout);
    }

    /** Makes {@code path} (not following links) belong to this user. */
    public void own(Path path) {
        if (!switching) {
            return;
        }
        try {
            Files.setAttribute(path, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(path, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new UncheckedIOException("could not hand " + path + " to user " + name, e);
        }
    }

    /** Makes {@code dir} and everything under it belong to this user. */
    public void ownTree(Path dir) {
        if (!switching) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.forEach(this::own);
        } catch (IOException e) {
            throw new UncheckedIOException("could not hand " + dir + " to user " + name, e);
        }
    }

    /** Creates {@code dir} (mode 0700) for this user, and checks that the user can reach it. */
    public Path createPrivateDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not create " + dir, e);
        }
        own(dir);
        checkReachable(dir);
        return dir;
    }

    /** Fails with a clear message when this user cannot write {@code dir} (a parent it may not search). */
    public void checkReachable(Path dir) {
        if (!switching) {
            return;
        }
        try {
            run(List.of("test", "-w", dir.toString()), TIMEOUT);
        } catch (CommandFailedException e) {
            throw new StartupException("Postgres runs as user '" + name + "', who cannot reach " + dir
                    + ": make its parent directories searchable (chmod o+x) or set KEEL_DATA_DIR to a directory outside "
                    + "a private home.");
        }
    }
}
