package dev.keel.archive;

import dev.keel.postgres.TimelineId;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * A database's archive across a major-version upgrade: its new server starts on a timeline above
 * every one the archive holds ({@link #newestTimeline}), so the two servers' WAL never share a
 * name, and once the database runs on it, what the old server archived (its WAL, timeline
 * histories and base backups, which cannot restore the new major) is removed
 * ({@link #retireBefore}): the archive then starts with the new server's history and first backup.
 */
@Singleton
public final class ArchiveRetirement {
    private static final Logger LOG = LoggerFactory.getLogger(ArchiveRetirement.class);

    private final ArchiveRepository archive;
    private final BackupRepository backups;
    private final ArchivePruning pruning;

    ArchiveRetirement(ArchiveRepository archive, BackupRepository backups, ArchivePruning pruning) {
        this.archive = archive;
        this.backups = backups;
        this.pruning = pruning;
    }

    /** The highest timeline the database's archive holds a file or a backup of (1 when it holds none). */
    public TimelineId newestTimeline(UUID database) {
        int newest = 1;
        for (ArchivedWal file : archive.files(database)) {
            newest = Math.max(newest, file.file().timeline().value());
        }
        for (Backup backup : backups.list(database)) {
            if (backup.timeline() != null) {
                newest = Math.max(newest, backup.timeline().value());
            }
        }
        return new TimelineId(newest);
    }

    /** Removes the database's archived files and base backups of timelines below {@code first}, from the catalog first. */
    public void retireBefore(UUID database, TimelineId first) {
        List<String> files = new ArrayList<>();
        for (ArchivedWal file : archive.files(database)) {
            if (file.file().timeline().value() < first.value()) {
                files.add(file.name());
            }
        }
        List<Backup> old = backups.list(database).stream()
                .filter(b -> b.state() != BackupState.RUNNING && (b.timeline() == null || b.timeline().value() < first.value())).toList();
        pruning.remove(database, old, files);
        LOG.info("Retired the archive of database {} before timeline {}: {} WAL files and {} base backups", database, first,
                files.size(), old.size());
    }
}
