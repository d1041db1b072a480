package dev.keel.archive;

import dev.keel.auth.Quotas;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.WalFileName;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Keeps exactly what the plan's rollback window needs, and the newest backup always:
 * <ul>
 * <li>backups finished inside the window, plus the newest one finished before it (the base for
 * restoring to the window's start), plus the newest backup;</li>
 * <li>manual backups younger than the plan's backup retention, each with only the WAL from its
 * start to its stop, so each stays restorable on its own; but never more manual backups than the
 * team's quota ({@code keel.quotas.manual-backups}, newest first);</li>
 * <li>WAL from the start of the oldest backup of the window onwards, and every timeline history.</li>
 * </ul>
 * Everything else (older backups, failed backups' leftovers, older WAL) is removed from the
 * store, then from the catalog.
 */
@Singleton
public final class Retention {
    private static final Logger LOG = LoggerFactory.getLogger(Retention.class);
    private static final Duration FAILED_KEPT = Duration.ofDays(1);

    private final DatabaseLookup databases;
    private final Plans plans;
    private final BackupRepository backups;
    private final ArchiveRepository archive;
    private final ArchivePruning pruning;
    private final Quotas quotas;

    Retention(DatabaseLookup databases, Plans plans, BackupRepository backups, ArchiveRepository archive, ArchivePruning pruning,
              Quotas quotas) {
        this.quotas = quotas;
        this.databases = databases;
        this.plans = plans;
        this.backups = backups;
        this.archive = archive;
        this.pruning = pruning;
    }

    /** What one pass removed from a database. */
    public record Removed(List<Backup> backups, List<String> walFiles) {
    }

    public void applyAll(Instant now) {
        for (Database database : databases.archiving()) {
            try {
                apply(database, now);
            } catch (RuntimeException e) {
                LOG.warn("Retention of database {} failed; trying again at the next pass", database.id(), e);
            }
        }
    }

    public Removed apply(Database database, Instant now) {
        Plan plan = plans.require(database.plan());
        List<Backup> completed = backups.completed(database.id()); // newest first
        if (completed.isEmpty()) {
            return new Removed(List.of(), List.of());
        }
        Instant windowStart = now.minus(Duration.ofDays(plan.rollbackWindowDays()));
        Instant manualLimit = now.minus(Duration.ofDays(plan.backupRetentionDays()));
        Set<Backup> window = new LinkedHashSet<>();
        window.add(completed.get(0));
        Backup base = completed.get(0);
        for (Backup backup : completed) {
            window.add(backup);
            base = backup;
            if (backup.finishedAt().isBefore(windowStart)) {
                break; // the newest backup before the window: the base for its first moment
            }
        }
        List<Backup> manual = new ArrayList<>();
        for (Backup backup : completed) {
            if (!window.contains(backup) && backup.kind() == BackupKind.MANUAL && backup.finishedAt().isAfter(manualLimit)) {
                manual.add(backup);
            }
        }
        // At most the quota of manual backups, the newest: older ones expire, in the window too, unless the window stands on them.
        int manualKept = 0;
        for (Backup backup : completed) {
            if (backup.kind() == BackupKind.MANUAL && (window.contains(backup) || manual.contains(backup))
                    && ++manualKept > quotas.getManualBackups() && backup != base && backup != completed.get(0)) {
                window.remove(backup);
                manual.remove(backup);
            }
        }
        Lsn walFrom = window.stream().map(Backup::startLsn).min(Lsn::compareTo).orElseThrow();

        List<Backup> expired = new ArrayList<>();
        for (Backup backup : backups.list(database.id())) {
            boolean oldFailure = backup.state() == BackupState.FAILED && backup.startedAt().isBefore(now.minus(FAILED_KEPT));
            boolean outOfWindow = backup.state() == BackupState.COMPLETED && !window.contains(backup) && !manual.contains(backup);
            if (oldFailure || outOfWindow) {
                expired.add(backup);
            }
        }
        List<String> walExpired = new ArrayList<>();
        for (ArchivedWal file : archive.files(database.id())) {
            if (file.file().kind() == WalFileName.Kind.HISTORY || file.file().segment().isEmpty()) {
                continue;
            }
            var segment = file.file().segment().get();
            boolean needed = segment.endLsn().isAfter(walFrom) || manual.stream().anyMatch(b -> b.timeline().equals(segment.timeline())
                    && segment.endLsn().isAfter(b.startLsn()) && !segment.startLsn().isAfter(b.stopLsn()));
            if (!needed) {
                walExpired.add(file.name());
            }
        }
        pruning.remove(database.id(), expired, walExpired);
        if (!expired.isEmpty() || !walExpired.isEmpty()) {
            LOG.info("Retention removed {} backups and {} WAL files of database {}", expired.size(), walExpired.size(), database.id());
        }
        return new Removed(expired, walExpired);
    }
}
