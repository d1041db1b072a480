package dev.keel.restore;

import com.github.luben.zstd.Zstd;
import dev.keel.archive.ArchiveLayout;
import dev.keel.archive.ArchiveRepository;
import dev.keel.archive.ArchivedWal;
import dev.keel.archive.Sha256;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.StorageException;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;

/**
 * Fetches an archived WAL file to a path, decompressed, and only if its bytes have the sha256
 * recorded when it was archived; written under a temporary name and renamed, so a reader
 * ({@code restore_command}) never sees a partial or corrupt file.
 */
@Singleton
public final class WalFetcher {
    private final ObjectStore store;
    private final ArchiveRepository archive;

    WalFetcher(ObjectStore store, ArchiveRepository archive) {
        this.store = store;
        this.archive = archive;
    }

    /** Writes {@code name} of {@code database}'s archive to {@code target}; false when the archive has no such file. */
    public boolean fetch(UUID database, String name, Path target) throws IOException {
        Optional<ArchivedWal> recorded = archive.file(database, name);
        if (recorded.isEmpty()) {
            return false;
        }
        byte[] bytes = read(database, recorded.get());
        Path temp = target.resolveSibling("." + target.getFileName() + ".fetching");
        Files.write(temp, bytes);
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return true;
    }

    /**
     * The bytes of an archived WAL file, decompressed and checked against the recorded sha256.
     * A file the catalog records but the store lacks is as damaged as a corrupt one.
     */
    public byte[] read(UUID database, ArchivedWal recorded) {
        String name = recorded.name();
        byte[] bytes;
        try (InputStream in = store.get(ArchiveLayout.walKey(database, name))) {
            // One call into zstd, straight into an array of the recorded size: no stream copies on the restore's path.
            bytes = Zstd.decompress(in.readAllBytes(), Math.toIntExact(recorded.size()));
        } catch (com.github.luben.zstd.ZstdException e) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " does not decompress: " + e.getMessage(), e);
        } catch (StorageException.NotFound e) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database
                    + " is recorded as archived, but the object store does not have it");
        } catch (IOException e) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " does not decompress: " + e.getMessage(), e);
        }
        String sha256 = Sha256.of(bytes);
        if (!sha256.equals(recorded.sha256())) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " is corrupt: its sha256 is " + sha256
                    + ", the archive recorded " + recorded.sha256());
        }
        return bytes;
    }
}
