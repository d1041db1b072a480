package dev.keel.archive;

import dev.keel.databases.DatabaseRemoving;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;

/**
 * Removes a deleted database's archive, once its instances are gone: waits for WAL uploads still
 * in flight, then removes its objects (and unfinished uploads) from the store, then its rows.
 */
@Singleton
final class ArchiveRemoval implements ApplicationEventListener<DatabaseRemoving> {
    private final ObjectStore store;
    private final ArchiveRepository archive;
    private final BackupSchedules schedules;
    private final WalArchiver archiver;
    private final WalReceivers receivers;
    private final DSLContext dsl;

    ArchiveRemoval(ObjectStore store, ArchiveRepository archive, BackupSchedules schedules, WalArchiver archiver, WalReceivers receivers,
                   DSLContext dsl) {
        this.archiver = archiver;
        this.receivers = receivers;
        this.schedules = schedules;
        this.store = store;
        this.archive = archive;
        this.dsl = dsl;
    }

    @Override
    public void onApplicationEvent(DatabaseRemoving event) {
        UUID database = event.databaseId();
        try {
            receivers.quiesce(database);
            archiver.quiesce(database);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for WAL uploads of " + database, e);
        }
        String prefix = ArchiveLayout.prefix(database);
        store.abortIncompleteUploads(prefix);
        store.delete(store.list(prefix).stream().map(ObjectInfo::key).toList());
        dsl.deleteFrom(BACKUPS).where(BACKUPS.DATABASE_ID.eq(database)).execute();
        schedules.delete(database);
        archive.deleteAll(database);
    }
}
