package dev.keel.restore;

import com.github.luben.zstd.ZstdInputStream;
import dev.keel.archive.ArchiveLayout;
import dev.keel.archive.BackupManifest;
import dev.keel.archive.Sha256;
import dev.keel.storage.ObjectStore;
import io.micronaut.json.JsonMapper;
import jakarta.inject.Singleton;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * Unpacks a base backup from the store into a directory, streaming, and checks as it goes: the
 * compressed object against the manifest's sha256, and every file against its size and sha256. A
 * mismatch anywhere is a {@link CorruptArchiveException}; nothing unchecked is left to start.
 */
@Singleton
public final class BackupReader {
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
        BackupManifest manifest = manifest(database, backup);
        Map<String, BackupManifest.Entry> expected = new HashMap<>();
        manifest.files().forEach(e -> expected.put(e.path(), e));
        Files.createDirectories(target);
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwx------")); // Postgres accepts no wider
        Path root = target.toAbsolutePath().normalize();
        MessageDigest objectDigest = Sha256.digest();
        String where = "backup " + backup + " of database " + database;
        try (InputStream object = new DigestInputStream(new BufferedInputStream(store.get(ArchiveLayout.backupKey(database, backup)), 1 << 17),
                objectDigest);
             TarArchiveInputStream tar = new TarArchiveInputStream(new ZstdInputStream(object))) {
            TarArchiveEntry entry;
            byte[] buffer = new byte[1 << 17];
            while ((entry = tar.getNextEntry()) != null) {
                String path = entry.getName().endsWith("/") ? entry.getName().substring(0, entry.getName().length() - 1) : entry.getName();
                BackupManifest.Entry listed = expected.remove(path);
                if (listed == null) {
                    throw new CorruptArchiveException(where + " holds " + path + ", which its manifest does not list");
                }
                Path out = root.resolve(path).normalize();
                if (!out.startsWith(root)) {
                    throw new CorruptArchiveException(where + " holds a path outside the data directory: " + path);
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(out);
                    Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwx------"));
                    continue;
                }
                MessageDigest digest = Sha256.digest();
                long size = 0;
                try (OutputStream file = Files.newOutputStream(out)) {
                    int n;
                    while ((n = tar.read(buffer)) > 0) {
                        file.write(buffer, 0, n);
                        digest.update(buffer, 0, n);
                        size += n;
                    }
                }
                Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-------"));
                String sha256 = Sha256.hex(digest.digest());
                if (size != listed.size() || !sha256.equals(listed.sha256())) {
                    throw new CorruptArchiveException(where + " is corrupt: " + path + " has " + size + " bytes with sha256 " + sha256
                            + ", the manifest says " + listed.size() + " bytes with sha256 " + listed.sha256());
                }
            }
            object.transferTo(OutputStream.nullOutputStream());
        } catch (CorruptArchiveException e) {
            throw e;
        } catch (IOException e) {
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
        return manifest;
    }
}
