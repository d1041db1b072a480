package dev.keel.archive;

import dev.keel.databases.Database;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.postgres.TimelineId;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Works towards a completed base backup on a database's current timeline, the state a failover
 * leaves a database needing (its next standby and the rollback window's new start are built from
 * it). Asked on every check, it starts a backup when none of the current timeline has completed
 * and none runs; a backup of the old primary still running when the failover came is let end
 * (it fails with its server), and the next check starts the new one. So a failover never waits
 * for, nor fails because of, a backup.
 */
@Singleton
public final class TimelineBackups {
    private static final Logger LOG = LoggerFactory.getLogger(TimelineBackups.class);

    private final BackupRepository backups;
    private final BaseBackups baseBackups;
    private final OperationRepository operations;
    private final Duration retry;
    private final Map<UUID, Instant> lastStarted = new ConcurrentHashMap<>();

    TimelineBackups(BackupRepository backups, BaseBackups baseBackups, OperationRepository operations,
                    @Value("${keel.backups.timeline-retry:1m}") Duration retry) {
        this.backups = backups;
        this.baseBackups = baseBackups;
        this.operations = operations;
        this.retry = retry;
    }

    /**
     * Takes one step towards a completed backup on {@code current}: nothing when there is one, or
     * one runs, or one was started less than {@code keel.backups.timeline-retry} ago, or the
     * database has not completed its first backup yet; else starts one.
     */
    public void pursue(Database database, TimelineId current) {
        List<Backup> completed = backups.completed(database.id());
        // A database's first backup is its provisioning's (FirstBackup); this one follows timelines from there.
        if (completed.isEmpty() || completed.stream().anyMatch(b -> b.timeline() != null && b.timeline().compareTo(current) >= 0) || operations.running(database.id(), EnumSet.of(OperationKind.BACKUP)).isPresent()
                || Instant.now().isBefore(lastStarted.getOrDefault(database.id(), Instant.EPOCH).plus(retry))) {
            return;
        }
        lastStarted.put(database.id(), Instant.now());
        // One started meanwhile is the step this call was to take, or the next check finds it ended.
        if (baseBackups.startUnlessRunning(database, BackupKind.INITIAL).isPresent()) {
            LOG.info("Database {}: taking a base backup of timeline {}, which has none yet", database.name(), current.value());
        }
    }
}
