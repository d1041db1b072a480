package dev.keel.restore;

import com.github.luben.zstd.ZstdInputStream;
import dev.keel.archive.ArchiveLayout;
import dev.keel.archive.BackupManifest;
import dev.keel.archive.Sha256;
import dev.keel.instances.DataDirectorySink;
import dev.keel.storage.ObjectStore;
import io.micronaut.json.JsonMapper;
import jakarta.inject.Singleton;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.LongConsumer;

/**
 * Unpacks a base backup from the store into a directory, streaming, and checks as it goes: the
 * compressed object against the manifest's sha256, and every file against its size and sha256. A
 * mismatch anywhere is a {@link CorruptArchiveException}; nothing unchecked is left to start.
 */
@Singleton
public final class BackupReader {
    private static final long PROGRESS_BYTES = 32L << 20;
    private static final int CHUNK = 1 << 20;
    private final ObjectStore store;
    private final JsonMapper json;

    BackupReader(ObjectStore store, JsonMapper json) {
        this.store = store;
        this.json = json;
    }

    public BackupManifest manifest(UUID database, UUID backup) throws IOException {
        try (InputStream in = store.get(ArchiveLayout.manifestKey(database, backup))) {
            return json.readValue(in.readAllBytes(), BackupManifest.class);
        }
    }

    /** Unpacks into {@code target} (created; must not hold anything) and returns the manifest it was checked against. */
    public BackupManifest unpack(UUID database, UUID backup, Path target) throws IOException {
        return unpack(database, backup, DataDirectorySink.at(target), done -> { });
    }

    /**
     * Unpacks into {@code sink}, reporting the data directory bytes written so far to
     * {@code progress}, and returns the manifest it was checked against. Three threads share the
     * work: one reads the object ahead from the store, this one decompresses and splits the tar,
     * one hashes and writes the files ({@link CheckedFiles}).
     */
    public BackupManifest unpack(UUID database, UUID backup, DataDirectorySink sink, LongConsumer progress) throws IOException {
        BackupManifest manifest = manifest(database, backup);
        Map<String, BackupManifest.Entry> expected = new HashMap<>();
        manifest.files().forEach(e -> expected.put(e.path(), e));
        long written = 0;
        long reported = 0;
        MessageDigest objectDigest = Sha256.digest();
        String where = "backup " + backup + " of database " + database;
        CheckedFiles files = new CheckedFiles(sink, where);
        try (InputStream object = new DigestInputStream(ReadAhead.of(store.get(ArchiveLayout.backupKey(database, backup))), objectDigest);
             TarArchiveInputStream tar = new TarArchiveInputStream(new ZstdInputStream(object))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String path = entry.getName().endsWith("/") ? entry.getName().substring(0, entry.getName().length() - 1) : entry.getName();
                BackupManifest.Entry listed = expected.remove(path);
                if (listed == null) {
                    throw new CorruptArchiveException(where + " holds " + path + ", which its manifest does not list");
                }
                if (entry.isDirectory()) {
                    files.directory(path);
                    continue;
                }
                files.begin(path, listed);
                for (long left = entry.getSize(); left > 0; ) {
                    byte[] chunk = new byte[(int) Math.min(CHUNK, left)];
                    int n = tar.readNBytes(chunk, 0, chunk.length);
                    if (n == 0) {
                        break; // short entry: the writer's size check says so
                    }
                    files.chunk(chunk, n);
                    written += n;
                    left -= n;
                }
                files.end();
                if (written - reported >= PROGRESS_BYTES) {
                    progress.accept(written);
                    reported = written;
                }
            }
            object.transferTo(OutputStream.nullOutputStream());
            files.finish();
        } catch (CorruptArchiveException e) {
            files.abandon();
            throw e;
        } catch (IOException e) {
            files.abandon();
            throw new CorruptArchiveException(where + " cannot be read back: " + e.getMessage(), e);
        }
        String objectSha256 = Sha256.hex(objectDigest.digest());
        if (!objectSha256.equals(manifest.objectSha256())) {
            throw new CorruptArchiveException(where + " is corrupt: the object's sha256 is " + objectSha256 + ", the manifest says "
                    + manifest.objectSha256());
        }
        if (!expected.isEmpty()) {
            throw new CorruptArchiveException(where + " lacks files its manifest lists, such as " + expected.keySet().iterator().next());
        }
        progress.accept(written);
        return manifest;
    }
}
