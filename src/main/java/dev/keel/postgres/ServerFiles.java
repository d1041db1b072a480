package dev.keel.postgres;

import dev.keel.PrivateFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The configuration files Keel owns inside a data directory: {@code keel.conf} (included from
 * the end of postgresql.conf, so its settings win), {@code pg_hba.conf}, and the server's TLS
 * key pair. They are rewritten whole; nobody edits them by hand.
 */
public final class ServerFiles {
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
        write(dataDir.resolve("pg_hba.conf"), renderHba(rules), owner);
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
