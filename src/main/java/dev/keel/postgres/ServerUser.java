package dev.keel.postgres;

import dev.keel.StartupException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * An OS account Postgres processes run as: one per instance, or the catalog's, when Keel runs as
 * root ({@link ServerAccounts}); Keel's own account otherwise. {@code initdb} and {@code postgres}
 * refuse to run as root, so commands are started through {@code setpriv} as the account, and the
 * directories Postgres writes are handed to it.
 */
public final class ServerUser {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final boolean switching;
    private final String name;
    private final int uid;
    private final int gid;

    private ServerUser(boolean switching, String name, int uid, int gid) {
        this.switching = switching;
        this.name = name;
        this.uid = uid;
        this.gid = gid;
    }

    /** Keel's own account: commands run as they are. */
    static ServerUser self() {
        return new ServerUser(false, System.getProperty("user.name"), -1, -1);
    }

    /** An account commands switch to. */
    static ServerUser account(String name, int uid, int gid) {
        return new ServerUser(true, name, uid, gid);
    }

    public String name() {
        return name;
    }

    /** The numeric user id, or -1 for Keel's own account. */
    public int uid() {
        return uid;
    }

    /** {@code argv} as a command that runs as this user. */
    public List<String> command(List<String> argv) {
        if (!switching) {
            return argv;
        }
        List<String> full = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--"));
        full.addAll(argv);
        return full;
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

    /** Makes {@code dir} and everything under it belong to this user (links themselves, never their targets). */
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

    /** Whether {@code path} (not following links) belongs to this user. */
    public boolean owns(Path path) {
        if (!switching) {
            return true;
        }
        try {
            return ((Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)) == uid;
        } catch (IOException e) {
            return false;
        }
    }

    /** Creates {@code dir} (mode 0700) for this user. */
    public Path createPrivateDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not create " + dir, e);
        }
        own(dir);
        return dir;
    }

    /** Fails with a clear message when this user cannot search {@code dir} (or a parent of it). */
    public void checkReachable(Path dir) {
        if (!switching) {
            return;
        }
        try {
            run(List.of("test", "-x", dir.toString()), TIMEOUT);
        } catch (CommandFailedException e) {
            throw new StartupException("Postgres runs as user '" + name + "', who cannot reach " + dir
                    + ": make its parent directories searchable (chmod o+x) or set KEEL_SERVER_DIR to a directory outside "
                    + "a private home.");
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
