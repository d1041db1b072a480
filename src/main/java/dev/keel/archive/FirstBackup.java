package dev.keel.archive;

import dev.keel.databases.DatabaseAvailable;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.inject.Singleton;

/**
 * Every new database gets its first base backup as soon as it is available; a follower once it
 * is unfollowed (before, its leader's archive is its protection).
 */
@Singleton
final class FirstBackup implements ApplicationEventListener<DatabaseAvailable> {
    private final BaseBackups backups;

    FirstBackup(BaseBackups backups) {
        this.backups = backups;
    }

    @Override
    public void onApplicationEvent(DatabaseAvailable event) {
        if (!event.database().following()) {
            backups.start(event.database(), BackupKind.INITIAL);
        }
    }
}
