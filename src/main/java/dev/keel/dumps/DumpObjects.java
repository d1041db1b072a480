package dev.keel.dumps;

import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.StorageException;
import jakarta.inject.Singleton;

import java.io.InputStream;
import java.util.List;

/** A logical backup's objects in the store: read back (with its size) or removed. */
@Singleton
final class DumpObjects {
    private final ObjectStore store;

    DumpObjects(ObjectStore store) {
        this.store = store;
    }

    /** The stored dump of a completed backup and its size; the caller closes the stream and checks the sha256. */
    record Stored(InputStream stream, long size) {
    }

    Stored open(Transfer backup) {
        String key = DumpLayout.dumpKey(backup.databaseId(), backup.id());
        ObjectInfo info = store.head(key).orElseThrow(() -> new StorageException.NotFound(key));
        return new Stored(store.get(key), info.size());
    }

    /** Removes the backup's dump, manifest and any unfinished upload of it; nothing there is no error. */
    void remove(Transfer backup) {
        String key = DumpLayout.dumpKey(backup.databaseId(), backup.id());
        store.abortIncompleteUploads(key);
        store.delete(List.of(key, DumpLayout.manifestKey(backup.databaseId(), backup.id())));
    }
}
