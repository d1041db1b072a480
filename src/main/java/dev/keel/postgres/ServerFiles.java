package dev.keel.postgres;

import dev.keel.Fsync;
import dev.keel.PrivateFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The configuration files Keel owns inside a data directory: {@code keel.conf} (included from
 * the end of postgresql.conf, so its settings win), {@code pg_hba.conf}, and the server's TLS
 * key pair. They are rewritten whole; nobody edits them by hand.
 */
public final class ServerFiles {
    private static final String HBA = "pg_hba.conf";
    public static final String KEEL_CONF = "keel.conf";
    private static final String PREVIOUS = ".previous";
    private static final List<String> KEPT = List.of(KEEL_CONF, HBA);
    /**
     * Written once every file of {@link #KEPT} is kept, before any is replaced, and removed before any kept file is: kept
     * files without it are not one change's (a stop between keeping or dropping two), and are neither put back nor kept.
     */
    private static final String KEPT_MARK = "keel.previous.complete";
    /**
     * The names of the files a configure keeps until the server accepts their replacements ({@link #replaceConfiguration}),
     * and the mark that they are one change's.
     */
    public static final List<String> KEPT_FILES = Stream.concat(KEPT.stream().map(name -> name + PREVIOUS), Stream.of(KEPT_MARK)).toList();
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
     * Writes keel.conf and pg_hba.conf as {@link #writeSettings} and {@link #writeHba} do, keeping
     * the files they replace beside them ({@code .previous}: a second
     * link, so owner and mode stay) until {@link #forgetPrevious} drops them or
     * {@link #restorePrevious} puts them back: a server that refuses a pg_hba keeps the settings
     * and rules it had, but would read the new settings at its next reload or start, and would not
     * start at all from the refused pg_hba. Files kept already, with their mark, stay: an earlier
     * change was neither accepted nor put back (Keel stopped in between), so they are still the
     * last the server accepted, and the files in their place may be ones it refuses. Kept files
     * without the mark (Keel stopped while keeping or dropping them) are of no one change, and
     * are replaced by the files in place, which the server last read.
     */
    public static void replaceConfiguration(Path dataDir, Map<String, String> settings, List<HbaRule> rules, ServerUser owner) {
        Path mark = dataDir.resolve(KEPT_MARK);
        if (!Files.exists(mark, LinkOption.NOFOLLOW_LINKS)) {
            dropKept(dataDir);
            for (String name : KEPT) {
                keep(dataDir, name);
            }
            try {
                // Names the postmaster that runs now, if one does: the one that runs from the files kept.
                Files.writeString(mark, runningPostmaster(dataDir).orElse(""), StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW);
                owner.own(mark);
                // The kept links and their mark reach the disk before the files they keep are replaced.
                Fsync.force(mark);
                Fsync.force(dataDir);
            } catch (IOException e) {
                throw new UncheckedIOException("could not mark the kept configuration of " + dataDir, e);
            }
        }
        writeSettings(dataDir, settings, owner);
        writeHba(dataDir, rules, owner);
    }

    private static void keep(Path dataDir, String name) {
        Path file = dataDir.resolve(name);
        Path previous = dataDir.resolve(name + PREVIOUS);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        // Linked under a name of its own, then renamed into place: a kill -9 in between leaves no half-made .previous.
        Path link = dataDir.resolve("." + name + PREVIOUS + "." + UUID.randomUUID());
        try {
            Files.createLink(link, file);
            Files.move(link, previous, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(link);
            } catch (IOException ignored) {
                // Left: a stray link in the data directory, nothing reads it.
            }
            throw new UncheckedIOException("could not keep " + file + " before replacing it", e);
        }
    }

    /**
     * Puts back the files {@link #replaceConfiguration} kept; nothing for a file it kept none of,
     * nor for kept files without their mark (no change's whole set). Returns whether it put
     * anything back.
     */
    public static boolean restorePrevious(Path dataDir) {
        Path mark = dataDir.resolve(KEPT_MARK);
        if (!Files.exists(mark, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        boolean restored = false;
        for (String name : KEPT) {
            Path previous = dataDir.resolve(name + PREVIOUS);
            if (!Files.isRegularFile(previous, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            Path file = dataDir.resolve(name);
            try {
                if (sameFile(previous, file)) {
                    // Never replaced (a change that failed half written): a rename onto another link of the same file does nothing.
                    Files.delete(previous);
                    continue;
                }
                Files.move(previous, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException("could not put back " + previous, e);
            }
            restored = true;
        }
        // The files put back reach the disk before their mark goes: a power cut between leaves them kept, not half put back.
        forceDirectory(dataDir);
        delete(mark);
        return restored;
    }

    /** Whether {@code file} is a regular file, not a link, and the same as {@code kept}. */
    private static boolean sameFile(Path kept, Path file) throws IOException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Object keptKey = Files.readAttributes(kept, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        return keptKey != null && keptKey.equals(Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey());
    }

    /**
     * For a server that runs while a change Keel stopped during left its files kept
     * ({@link #replaceConfiguration}, neither accepted nor put back): puts them back when the
     * postmaster that ran as they were kept still runs (it runs from them: the files in place were
     * never checked), and drops them when another started since (it started from the files in
     * place, which it took). The postmaster is told by its pid and start time in
     * {@code postmaster.pid}, which the mark recorded; not by that file's age, which a running
     * postmaster rewrites (ready, a promotion, a crash of one of its backends, a shutdown). One
     * shutting down is left alone, as are the kept files, for its next start
     * ({@code Reconfiguration.startOrGoBack}). Returns whether it put back or dropped anything.
     */
    public static boolean settleKept(Path dataDir) {
        Path mark = dataDir.resolve(KEPT_MARK);
        try {
            if (!Files.exists(mark, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            Optional<String> running = runningPostmaster(dataDir);
            if (running.isEmpty() || stopping(dataDir)) {
                return false;
            }
            if (running.get().equals(Files.readString(mark, StandardCharsets.UTF_8))) {
                restorePrevious(dataDir);
            } else {
                forgetPrevious(dataDir);
            }
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("could not settle the kept configuration of " + dataDir, e);
        }
    }

    /** The live postmaster of {@code dataDir} as its pid and start time ({@code postmaster.pid}'s first and third lines). */
    private static Optional<String> runningPostmaster(Path dataDir) throws IOException {
        if (Postmaster.pid(dataDir).isEmpty()) {
            return Optional.empty();
        }
        List<String> lines = pidFile(dataDir);
        return lines.size() < 3 ? Optional.empty() : Optional.of(lines.get(0).strip() + " " + lines.get(2).strip());
    }

    /** Whether the postmaster said in its pid file that it is shutting down (its eighth line). */
    private static boolean stopping(Path dataDir) throws IOException {
        List<String> lines = pidFile(dataDir);
        return lines.size() >= 8 && lines.get(7).strip().equals("stopping");
    }

    private static List<String> pidFile(Path dataDir) throws IOException {
        Path pid = dataDir.resolve("postmaster.pid");
        try {
            return Files.readAllLines(pid, StandardCharsets.UTF_8);
        } catch (NoSuchFileException gone) {
            return List.of();
        }
    }

    /** Drops the files {@link #replaceConfiguration} kept, once the server accepted their replacements: their mark first. */
    public static void forgetPrevious(Path dataDir) {
        delete(dataDir.resolve(KEPT_MARK));
        // The mark's removal reaches the disk before the kept files': a power cut between leaves kept files without a
        // mark, which are dropped, never a mark over a set with one file gone.
        forceDirectory(dataDir);
        dropKept(dataDir);
    }

    private static void dropKept(Path dataDir) {
        for (String name : KEPT) {
            delete(dataDir.resolve(name + PREVIOUS));
        }
    }

    private static void forceDirectory(Path dataDir) {
        try {
            Fsync.force(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not fsync " + dataDir, e);
        }
    }

    private static void delete(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("could not remove " + file, e);
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
