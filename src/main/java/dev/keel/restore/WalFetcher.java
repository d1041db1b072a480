package dev.keel.restore;

import dev.keel.archive.ArchiveLayout;
import dev.keel.archive.ArchiveRepository;
import dev.keel.archive.ArchivedWal;
import dev.keel.archive.Sha256;
import dev.keel.archive.StreamedWal;
import dev.keel.archive.UnreadableWalException;
import dev.keel.archive.WalFormat;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.StorageException;
import dev.keel.storage.StoredObject;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads archived WAL back through {@link WalFormat}: decompressed as its metadata says, and only
 * if its bytes have the sha256 recorded when it was archived and, for a segment, the system
 * identifier its timeline was archived with (a segment of another cluster is refused). A
 * streamed partial segment is read padded to a whole segment.
 */
@Singleton
public final class WalFetcher {
    private final ObjectStore store;
    private final ArchiveRepository archive;
    private final Map<String, Long> systems = new ConcurrentHashMap<>();

    WalFetcher(ObjectStore store, ArchiveRepository archive) {
        this.store = store;
        this.archive = archive;
    }

    /**
     * Writes {@code name} of {@code database}'s archive to {@code target} under a temporary name,
     * then renamed, so no reader sees a partial file; false when the archive has no such file.
     */
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
        byte[] bytes = decode(database, ArchiveLayout.walKey(database, name), name, "is recorded as archived");
        String sha256 = Sha256.of(bytes);
        if (!recorded.sha256().equals(sha256)) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " is corrupt: its sha256 is "
                    + sha256 + ", the archive recorded " + recorded.sha256());
        }
        checkSystem(database, recorded.file(), bytes);
        return bytes;
    }

    /**
     * The streamed segment the receiver stored last, put together from its parts and padded to a
     * whole segment; its first {@code partial.size()} bytes must have the recorded sha256 (parts
     * stored since the row was read only add WAL after them). When the segment was completed
     * meanwhile (and its parts removed), the archived segment.
     */
    public byte[] readPartial(UUID database, StreamedWal partial) {
        String name = partial.name();
        byte[] segment = new byte[Math.toIntExact(WalSegmentName.SEGMENT_BYTES)];
        int end = 0;
        for (ObjectInfo part : store.list(ArchiveLayout.streamedPrefix(database, name))) {
            int offset = ArchiveLayout.partOffset(part.key());
            if (offset > end) {
                break; // a part after a gap: what precedes the gap is all that can be replayed
            }
            byte[] bytes = decode(database, part.key(), name, "is listed as streamed");
            int n = Math.min(bytes.length, segment.length - offset);
            System.arraycopy(bytes, 0, segment, offset, n);
            end = Math.max(end, offset + n);
        }
        if (end < partial.size()) {
            Optional<ArchivedWal> completed = archive.file(database, name);
            if (completed.isPresent()) {
                return read(database, completed.get());
            }
            throw new CorruptArchiveException("the streamed part of WAL segment " + name + " of database " + database + " holds "
                    + end + " bytes without a gap, fewer than the " + partial.size() + " recorded");
        }
        MessageDigest digest = Sha256.digest();
        digest.update(segment, 0, Math.toIntExact(partial.size()));
        String sha256 = Sha256.hex(digest.digest());
        if (!sha256.equals(partial.sha256())) {
            throw new CorruptArchiveException("the streamed part of WAL segment " + name + " of database " + database + " is corrupt:"
                    + " its sha256 is " + sha256 + ", the receiver recorded " + partial.sha256());
        }
        checkSystem(database, WalFileName.parse(name).orElseThrow(), segment);
        return segment;
    }

    private byte[] decode(UUID database, String key, String name, String recordedAs) {
        StoredObject object;
        try {
            object = store.read(key);
        } catch (StorageException.NotFound e) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " " + recordedAs
                    + ", but the object store does not have it");
        }
        try {
            return WalFormat.decode(object);
        } catch (UnreadableWalException e) {
            throw new CorruptArchiveException("WAL file " + name + " of database " + database + " " + e.getMessage() + " (object " + key + ")", e);
        }
    }

    private void checkSystem(UUID database, WalFileName file, byte[] bytes) {
        if (file.kind() != WalFileName.Kind.SEGMENT) {
            return;
        }
        OptionalLong found = WalFormat.systemIdentifier(bytes);
        String timeline = database + "/" + file.timeline().value();
        Optional<Long> expected = Optional.ofNullable(systems.get(timeline)).or(() -> archive.systemOf(database, file.timeline().value()));
        expected.ifPresent(id -> systems.put(timeline, id));
        if (found.isPresent() && expected.isPresent() && found.getAsLong() != expected.get()) {
            throw new CorruptArchiveException("WAL segment " + file.name() + " of database " + database + " was written by database"
                    + " system " + Long.toUnsignedString(found.getAsLong()) + ", not by this database's "
                    + Long.toUnsignedString(expected.get()) + ": it belongs to another cluster");
        }
    }
}
