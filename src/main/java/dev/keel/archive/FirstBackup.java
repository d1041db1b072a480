package dev.keel.archive;

import dev.keel.DaemonThreads;
import dev.keel.databases.DatabaseAvailable;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.problems.KeelException;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Every new database gets its first base backup a few seconds after it is available
 * ({@code keel.archive.first-backup-delay}); a follower once it is unfollowed (before, its
 * leader's archive is its protection). The delay leaves a new database's first connections
 * the machine to themselves rather than compete with the backup's checkpoint and compression;
 * a first backup that a Keel stop loses meanwhile is taken by the next backup dispatch, which
 * finds the database without one.
 */
@Singleton
final class FirstBackup implements ApplicationEventListener<DatabaseAvailable> {
    private static final Logger LOG = LoggerFactory.getLogger(FirstBackup.class);

    private final BaseBackups backups;
    private final DatabaseLookup databases;
    private final Duration delay;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-first-backup"));

    FirstBackup(BaseBackups backups, DatabaseLookup databases, @Value("${keel.archive.first-backup-delay}") Duration delay) {
        this.backups = backups;
        this.databases = databases;
        this.delay = delay;
    }

    @Override
    public void onApplicationEvent(DatabaseAvailable event) {
        if (!event.database().following()) {
            UUID id = event.database().id();
            timer.schedule(() -> start(id), delay.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void start(UUID id) {
        try {
            databases.find(id).filter(d -> d.state() == DatabaseState.AVAILABLE && !d.following())
                    .ifPresent(database -> backups.start(database, BackupKind.INITIAL));
        } catch (KeelException e) {
            LOG.info("First backup of database {} not started now: {}", id, e.getMessage());
        } catch (Throwable e) {
            LOG.error("Could not start the first backup of database {}; the next backup dispatch takes it", id, e);
        }
    }

    @PreDestroy
    void shutdown() {
        timer.shutdownNow();
    }
}
