package dev.keel.instances;

import dev.keel.Fsync;
import dev.keel.PrivateFiles;
import dev.keel.postgres.Postmaster;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Fencing a server on this machine, one routine for whoever does it: Keel's runtime, and the fence
 * guard, a process of its own that fences when Keel cannot. The postmaster and its children are
 * killed at once; the WAL it finished but had not archived goes to its spool, as its
 * {@code archive_command} would have sent it; and {@code standby.signal} is left, so that anyone
 * who starts it again gets it read-only.
 */
public final class ServerFence {
    private ServerFence() {
    }

    /** Where a server's files are on this machine: its data directory and its WAL spool. */
    public record Target(Path dataDir, Path spool) {
    }

    /**
     * Fences the server of {@code target}, run by OS account {@code account}; {@code own} hands a
     * file to that account (links themselves, never their targets). Returns why the WAL could not be
     * salvaged, or null: the fence stands regardless.
     */
    public static String fence(Target target, String account, Consumer<Path> own, Duration patience) {
        Path data = target.dataDir();
        // One fence of a server at a time, Keel's or the guard's: their copies to the spool and their signal files would meet.
        try (FileChannel channel = FileChannel.open(data.resolveSibling(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS); FileLock ignored = channel.lock()) {
            Postmaster.kill(data, account, patience);
            if (!Files.isDirectory(data, LinkOption.NOFOLLOW_LINKS)) {
                return null;
            }
            String salvage = null;
            try {
                salvageWal(data, target.spool());
            } catch (UncheckedIOException e) {
                salvage = e.getMessage();
            }
            PrivateFiles.write(data.resolve(InstanceRuntime.RecoverySignal.STANDBY.file()), "", own);
            return salvage;
        } catch (IOException e) {
            throw new UncheckedIOException("could not take the fence's lock beside " + data, e);
        }
    }

    /** The file beside a server's data directory whose lock one fence of it holds. */
    static final String LOCK_FILE = "fence.lock";

    /**
     * Hands the WAL files a killed server had finished but not yet archived ({@code .ready}) to its
     * spool, as its {@code archive_command} would have: the archive then has no hole before the
     * point a standby took over (a promoted standby does not archive what it received).
     */
    private static void salvageWal(Path data, Path spool) {
        Path wal = data.resolve("pg_wal");
        try (Stream<Path> ready = Files.list(wal.resolve("archive_status"))) {
            for (Path marker : (Iterable<Path>) ready::iterator) {
                String name = marker.getFileName().toString();
                if (!name.endsWith(".ready")) {
                    continue;
                }
                String file = name.substring(0, name.length() - ".ready".length());
                Path target = spool.resolve(file);
                if (Files.exists(target) || !Files.isRegularFile(wal.resolve(file))) {
                    continue;
                }
                Path temporary = spool.resolve("." + file + ".salvaged");
                // Never a link's target: the account owns pg_wal, and root does the copying.
                try (InputStream in = Files.newInputStream(wal.resolve(file), LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(temporary);
                    Files.copy(in, temporary);
                }
                Fsync.force(temporary);
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
                Fsync.forceDirectoryOf(target);
            }
        } catch (NoSuchFileException e) {
            // nothing to salvage
        } catch (IOException e) {
            throw new UncheckedIOException("could not salvage the unarchived WAL of the fenced server of " + data, e);
        }
    }
}
