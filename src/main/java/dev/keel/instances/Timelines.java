package dev.keel.instances;

import dev.keel.PrivateFiles;
import dev.keel.postgres.WalFileName;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Moving a new server onto a timeline above {@code after}: Postgres ends an archive recovery on
 * the timeline after the newest one whose history file it can find, so placeholder history files
 * for timelines 2 to {@code after} in {@code pg_wal}, a {@code recovery.signal} and a start that
 * recovers its own WAL only ({@code restore_command=false}, target timeline {@code current}) make
 * it promote onto {@code after + 1}. The placeholders are removed once it has (they are never
 * archived: the server runs without archiving until then), and the WAL from before the new
 * timeline is marked archived, so that it never is.
 */
final class Timelines {
    static final Map<String, String> RECOVERY_OPTIONS = Map.of("recovery_target_timeline", "current", "restore_command", "false");
    private static final Duration PROMOTION_PATIENCE = Duration.ofMinutes(2);

    private Timelines() {
    }

    static void claim(Path data, int after, Consumer<Path> own) {
        for (int timeline = 2; timeline <= after; timeline++) {
            PrivateFiles.write(history(data, timeline), "# placeholder: timeline " + timeline + " belongs to an earlier server of this"
                    + " database\n", own);
        }
        PrivateFiles.write(data.resolve("recovery.signal"), "", own);
    }

    /** Waits until the server has written its new timeline's history and left recovery (its signal file is gone). */
    static void awaitPromotion(Path data, int after) {
        Instant deadline = Instant.now().plus(PROMOTION_PATIENCE);
        while (!(Files.exists(history(data, after + 1)) && !Files.exists(data.resolve("recovery.signal")))) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("the new server did not move to timeline " + (after + 1) + " within "
                        + PROMOTION_PATIENCE.toMinutes() + " minutes; its log says why");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for a promotion", e);
            }
        }
    }

    /**
     * Removes the placeholders and marks the WAL the server wrote before its new timeline
     * (initdb's, on timeline 1) as archived: it belongs to no timeline of the database's archive,
     * where timeline 1 is an earlier server's, and the archive would refuse it as another
     * cluster's. Without the mark, the first checkpoint past it after archiving is on hands it to
     * {@code archive_command}.
     */
    static void release(Path data, int after, Consumer<Path> own) {
        Path wal = data.resolve("pg_wal");
        try {
            for (int timeline = 2; timeline <= after; timeline++) {
                Files.deleteIfExists(history(data, timeline));
            }
            try (Stream<Path> files = Files.list(wal)) {
                for (Path file : files.toList()) {
                    Optional<WalFileName> parsed = WalFileName.parse(file.getFileName().toString())
                            .filter(f -> f.kind() == WalFileName.Kind.SEGMENT || f.kind() == WalFileName.Kind.PARTIAL)
                            .filter(f -> f.timeline().value() <= after);
                    if (parsed.isPresent()) {
                        PrivateFiles.write(wal.resolve("archive_status").resolve(parsed.get().name() + ".done"), "", own);
                        Files.deleteIfExists(wal.resolve("archive_status").resolve(parsed.get().name() + ".ready"));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not release the earlier timelines of " + data, e);
        }
    }

    private static Path history(Path data, int timeline) {
        return data.resolve("pg_wal").resolve(String.format("%08X.history", timeline));
    }
}
