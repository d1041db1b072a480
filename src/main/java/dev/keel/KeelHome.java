package dev.keel;

import com.sun.security.auth.module.UnixSystem;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Keel's data directory ({@code KEEL_DATA_DIR}, default {@code ./var}): catalog settings, keys,
 * the embedded object store; and its server directory, where what Postgres processes must reach
 * lives (instances, the embedded catalog's cluster, unpacked binaries).
 *
 * <p>When Keel runs as its own user, the two are one. When it runs as root, Postgres runs as
 * unprivileged accounts, which may not be able to reach a data directory under a private home
 * (such as {@code /root/keel/var}); so the server directory is {@code KEEL_SERVER_DIR}, else
 * {@code /var/lib/keel/<hash of the data directory's path>}, searchable but not listable by
 * others, and the data directory itself is closed to everyone but root. A link
 * {@code <data dir>/servers} points at it. A data directory that already holds instances or a
 * catalog of its own (made by an earlier Keel) keeps them where they are.
 */
@Singleton
public final class KeelHome {
    /** The name of the link from the data directory to a server directory elsewhere. */
    public static final String SERVERS_LINK = "servers";
    private static final Path SHARED_ROOT = Path.of("/var/lib/keel");

    private final Path dir;
    private final Path serverDir;

    public KeelHome(@Value("${keel.data-dir}") String dataDir, @Value("${keel.server-dir:}") String configuredServerDir) {
        this.dir = Path.of(dataDir).toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
            this.serverDir = chooseServerDir(configuredServerDir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not create the data directory " + dir, e);
        }
    }

    /** Whether this process runs as root (and so runs Postgres as other accounts). */
    public static boolean runsAsRoot() {
        return new UnixSystem().getUid() == 0;
    }

    private Path chooseServerDir(String configured) throws IOException {
        if (!runsAsRoot()) {
            return dir;
        }
        Path link = dir.resolve(SERVERS_LINK);
        boolean legacy = !Files.exists(link, LinkOption.NOFOLLOW_LINKS)
                && (Files.isDirectory(dir.resolve("instances")) || Files.isDirectory(dir.resolve("catalog")));
        if (configured.isBlank() && legacy) {
            // Postgres accounts reach the instances through the data directory itself: searchable, not listable.
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            return dir;
        }
        Path servers = configured.isBlank() ? defaultServerDir(dir) : Path.of(configured).toAbsolutePath().normalize();
        if (servers.equals(dir)) {
            return dir; // an operator who keeps everything in one directory makes it reachable themselves
        }
        if (configured.isBlank()) {
            searchableOnly(SHARED_ROOT);
        }
        searchableOnly(servers);
        if (Files.isSymbolicLink(link)) {
            if (!Files.readSymbolicLink(link).equals(servers)) {
                Files.delete(link);
                Files.createSymbolicLink(link, servers);
            }
        } else {
            Files.createSymbolicLink(link, servers);
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        return servers;
    }

    /** The server directory a root Keel picks for {@code dataDir} when none is configured: {@code /var/lib/keel/<hash of its path>}. */
    public static Path defaultServerDir(Path dataDir) {
        return SHARED_ROOT.resolve(hash(dataDir.toAbsolutePath().normalize()));
    }

    private static void searchableOnly(Path directory) throws IOException {
        Files.createDirectories(directory);
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwx--x--x"));
    }

    private static String hash(Path path) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(path.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Path dir() {
        return dir;
    }

    public Path resolve(String name) {
        return dir.resolve(name);
    }

    /** Where instances, the embedded catalog's cluster and unpacked binaries live (see the class comment). */
    public Path serverDir() {
        return serverDir;
    }

    /** The server directory of the data directory {@code dataDir}, as a Keel that is not running finds it. */
    public static Path serverDirOf(Path dataDir) {
        Path link = dataDir.resolve(SERVERS_LINK);
        try {
            return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link) : dataDir;
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + link, e);
        }
    }
}
