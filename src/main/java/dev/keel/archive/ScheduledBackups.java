package dev.keel.archive;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Decides which databases get a base backup now: those in their backup hour whose newest
 * completed backup is older than most of a day, and any database that has no completed backup
 * and none running (its first one failed or was cut short).
 */
@Singleton
public final class ScheduledBackups {
    private static final Logger LOG = LoggerFactory.getLogger(ScheduledBackups.class);
    private static final Duration MIN_SPACING = Duration.ofHours(20);

    private final DatabaseLookup databases;
    private final BackupRepository backups;
    private final BackupSchedules schedules;
    private final BaseBackups baseBackups;

    ScheduledBackups(DatabaseLookup databases, BackupRepository backups, BackupSchedules schedules, BaseBackups baseBackups) {
        this.databases = databases;
        this.backups = backups;
        this.schedules = schedules;
        this.baseBackups = baseBackups;
    }

    /** Starts the backups due at {@code now}; returns them. */
    public List<Backup> dispatch(Instant now) {
        List<Backup> started = new ArrayList<>();
        int hour = now.atZone(ZoneOffset.UTC).getHour();
        for (Database database : databases.archiving()) {
            List<Backup> all = backups.list(database.id());
            if (all.stream().anyMatch(b -> b.state() == BackupState.RUNNING)) {
                continue;
            }
            Optional<Backup> newest = all.stream().filter(b -> b.state() == BackupState.COMPLETED).findFirst();
            boolean due = newest.isEmpty() || (schedules.hour(database.id()) == hour
                    && Duration.between(newest.get().finishedAt(), now).compareTo(MIN_SPACING) > 0);
            if (due) {
                try {
                    started.add(baseBackups.start(database, newest.isEmpty() ? BackupKind.INITIAL : BackupKind.SCHEDULED));
                } catch (RuntimeException e) {
                    LOG.warn("Could not start the scheduled backup of database {}: {}", database.id(), e.getMessage());
                }
            }
        }
        return started;
    }
}
