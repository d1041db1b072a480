package dev.keel.archive;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Compares the catalog with the object store: every archived WAL file and every completed
 * backup's objects the catalog records must be in the store. What is missing is recorded on the
 * database's archive status and shown by /archive; gaps in the WAL sequence /archive computes itself.
 */
@Singleton
public final class ContinuityCheck {
    private static final Logger LOG = LoggerFactory.getLogger(ContinuityCheck.class);
    private static final int LISTED = 10;

    private final DatabaseLookup databases;
    private final ArchiveRepository archive;
    private final BackupRepository backups;
    private final ObjectStore store;

    ContinuityCheck(DatabaseLookup databases, ArchiveRepository archive, BackupRepository backups, ObjectStore store) {
        this.databases = databases;
        this.archive = archive;
        this.backups = backups;
        this.store = store;
    }

    public void runAll() {
        for (Database database : databases.archiving()) {
            try {
                check(database);
            } catch (RuntimeException e) {
                LOG.warn("Continuity check of database {} failed; trying again at the next pass", database.id(), e);
            }
        }
    }

    private List<String> recordedKeys(Database database) {
        List<String> keys = new ArrayList<>();
        for (ArchivedWal file : archive.files(database.id())) {
            keys.add(ArchiveLayout.walKey(database.id(), file.name()));
        }
        for (Backup backup : backups.completed(database.id())) {
            keys.add(ArchiveLayout.backupKey(database.id(), backup.id()));
            keys.add(ArchiveLayout.manifestKey(database.id(), backup.id()));
        }
        return keys;
    }

    /** Returns the keys the catalog records that the store lacks (also recorded for /archive). */
    public List<String> check(Database database) {
        // The catalog first, then the store: Keel records an object only once it is stored, so
        // whatever is archived meanwhile is not taken for lost. What retention removes meanwhile
        // would be, so a key counts as missing only if the catalog still records it afterwards.
        List<String> recorded = recordedKeys(database);
        Set<String> stored = store.list(ArchiveLayout.prefix(database.id())).stream().map(ObjectInfo::key).collect(Collectors.toSet());
        List<String> missing = new ArrayList<>(recorded.stream().filter(key -> !stored.contains(key)).toList());
        if (!missing.isEmpty()) {
            missing.retainAll(Set.copyOf(recordedKeys(database)));
            // A listing is not proof of absence (S3-compatible servers differ in how a listing meets writes and deletes
            // under way): each key is asked for on its own before it is called lost.
            missing.removeIf(key -> store.head(key).isPresent());
        }
        String summary = missing.isEmpty() ? null : missing.size() + " archived objects are missing from the store: "
                + String.join(", ", missing.subList(0, Math.min(LISTED, missing.size()))) + (missing.size() > LISTED ? ", ..." : "");
        if (summary != null) {
            LOG.error("Continuity check of database {}: {}", database.id(), summary);
        }
        archive.recordCheck(database.id(), summary);
        return missing;
    }
}
