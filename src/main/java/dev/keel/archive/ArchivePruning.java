package dev.keel.archive;

import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.UUID;

/**
 * Removes some archived WAL files and base backups of a live database: from the catalog first, then from the
 * store, so that what the catalog records is in the store at every moment, which is what the
 * continuity check verifies (the other way round, a check between the two took them for lost). A
 * crash between the two leaves objects nothing records, which cost space and nothing else.
 * Retention and the retirement of an upgraded database's old archive both remove through it.
 */
@Singleton
final class ArchivePruning {
    private final ArchiveRepository archive;
    private final BackupRepository backups;
    private final ObjectStore store;

    ArchivePruning(ArchiveRepository archive, BackupRepository backups, ObjectStore store) {
        this.archive = archive;
        this.backups = backups;
        this.store = store;
    }

    void remove(UUID database, List<Backup> old, List<String> walFiles) {
        if (!walFiles.isEmpty()) {
            archive.forget(database, walFiles);
        }
        old.forEach(backup -> backups.delete(backup.id()));
        store.delete(walFiles.stream().map(name -> ArchiveLayout.walKey(database, name)).toList());
        for (Backup backup : old) {
            store.delete(store.list(ArchiveLayout.backupPrefix(database, backup.id())).stream().map(ObjectInfo::key).toList());
        }
    }
}
