package dev.keel.postgres;

import dev.keel.PrivateFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * The configuration files Keel owns inside a data directory: {@code keel.conf} (included from
 * the end of postgresql.conf, so its settings win), {@code pg_hba.conf}, and the server's TLS
 * key pair. They are rewritten whole; nobody edits them by hand.
 */
public final class ServerFiles {
    private static final String HBA = "pg_hba.conf";
    private static final String HBA_PREVIOUS = "pg_hba.conf.previous";
    public static final String KEEL_CONF = "keel.conf";
    public static final String SERVER_CERT = "server.crt";
    public static final String SERVER_KEY = "server.key";
    /** The installation CA's certificate, which the server checks its upstream's certificate against when it streams. */
    public static final String CA_CERT = "keel-ca.crt";
    private static final String INCLUDE = "include '" + KEEL_CONF + "'";
    private static final String HEADER = "# Managed by Keel; rewritten whole on changes. Do not edit.\n";

    private ServerFiles() {
    }

    /** Renders settings as postgresql.conf lines; values are always quoted, quotes doubled. */
    public static String renderSettings(Map<String, String> settings) {
        return HEADER + settings.entrySet().stream()
                .map(e -> e.getKey() + " = '" + e.getValue().replace("'", "''") + "'")
                .collect(Collectors.joining("\n", "", "\n"));
    }

    public static String renderHba(List<HbaRule> rules) {
        return HEADER + rules.stream().map(HbaRule::render).collect(Collectors.joining("\n", "", "\n"));
    }

    /** Writes keel.conf and makes postgresql.conf include it (once). */
    public static void writeSettings(Path dataDir, Map<String, String> settings, ServerUser owner) {
        write(dataDir.resolve(KEEL_CONF), renderSettings(settings), owner);
        Path main = dataDir.resolve("postgresql.conf");
        try {
            if (Files.isSymbolicLink(main)) {
                throw new IOException(main + " is a symbolic link; Keel does not write through links");
            }
            String text = Files.readString(main, StandardCharsets.UTF_8);
            if (!text.contains("\n" + INCLUDE + "\n")) {
                Files.writeString(main, "\n" + INCLUDE + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND,
                        LinkOption.NOFOLLOW_LINKS);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not update " + main, e);
        }
    }

    public static void writeHba(Path dataDir, List<HbaRule> rules, ServerUser owner) {
        write(dataDir.resolve(HBA), renderHba(rules), owner);
    }

    /**
     * As {@link #writeHba}, keeping the file it replaces beside it (a second link to it, so owner
     * and mode stay), for {@link #restorePreviousHba}: a server that refuses a pg_hba keeps the
     * rules it had, but would not start again from the refused file.
     */
    public static void replaceHba(Path dataDir, List<HbaRule> rules, ServerUser owner) {
        Path file = dataDir.resolve(HBA);
        Path previous = dataDir.resolve(HBA_PREVIOUS);
        // Linked under a name of its own, then renamed over the last: two configures of one server at once do not collide.
        Path link = dataDir.resolve("." + HBA_PREVIOUS + "." + UUID.randomUUID());
        try {
            if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                Files.createLink(link, file);
                Files.move(link, previous, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.deleteIfExists(previous);
            }
        } catch (IOException e) {
            try {
                Files.deleteIfExists(link);
            } catch (IOException ignored) {
                // Left: a stray link in the data directory, nothing reads it.
            }
            throw new UncheckedIOException("could not keep " + file + " before replacing it", e);
        }
        writeHba(dataDir, rules, owner);
    }

    /** Puts back the pg_hba.conf that {@link #replaceHba} last replaced; nothing when it kept none. */
    public static void restorePreviousHba(Path dataDir) {
        Path previous = dataDir.resolve(HBA_PREVIOUS);
        if (!Files.isRegularFile(previous, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try {
            Files.move(previous, dataDir.resolve(HBA), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("could not put back " + previous, e);
        }
    }

    /**
     * Writes the server certificate and its private key (0600: Postgres refuses a key others can
     * read), and the CA certificate it verifies upstream servers with.
     */
    public static void writeTls(Path dataDir, String certificatePem, String privateKeyPem, String caPem, ServerUser owner) {
        write(dataDir.resolve(SERVER_CERT), certificatePem, owner);
        write(dataDir.resolve(SERVER_KEY), privateKeyPem, owner);
        write(dataDir.resolve(CA_CERT), caPem, owner);
    }

    private static void write(Path file, String text, ServerUser owner) {
        PrivateFiles.write(file, text, owner::own);
    }
}
