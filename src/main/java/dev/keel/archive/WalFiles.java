package dev.keel.archive;

import dev.keel.postgres.WalFileName;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * Puts a finished WAL file into a database's archive, for both paths that deliver one: the
 * archiver (from {@code archive_command}'s spool) and the WAL receiver (from the replication
 * stream). A name the store already holds with the same sha256 is stored once and recorded once;
 * with another sha256 it is a conflict and nothing is overwritten. A segment whose system
 * identifier differs from the one its timeline was first archived with is another cluster's,
 * and refused the same way.
 */
@Singleton
public final class WalFiles {
    private final ObjectStore store;
    private final ArchiveRepository archive;

    WalFiles(ObjectStore store, ArchiveRepository archive) {
        this.store = store;
        this.archive = archive;
    }

    /** What became of a file: stored (or found stored already) with its stored size, or refused with why. */
    public sealed interface Outcome {
    }

    public record Stored(long storedBytes) implements Outcome {
    }

    public record Refused(String message) implements Outcome {
    }

    /**
     * Archives the first {@code length} bytes of {@code raw} as {@code file} of {@code database}, finished at {@code completedAt}.
     * They are compressed only if the store does not hold them already (the WAL receiver's copy usually is there first).
     */
    public Outcome archive(UUID database, WalFileName file, byte[] raw, int length, Instant completedAt) {
        String sha256 = WalFormat.sha256(raw, 0, length);
        return archive(database, file, raw, sha256, length, () -> WalFormat.encode(raw, length, sha256), completedAt);
    }

    /** Archives {@code file}, whose bytes {@code raw} are encoded already as {@code encoded}. */
    public Outcome archive(UUID database, WalFileName file, byte[] raw, WalFormat.Encoded encoded, Instant completedAt) {
        return archive(database, file, raw, encoded.sha256(), encoded.size(), () -> encoded, completedAt);
    }

    private Outcome archive(UUID database, WalFileName file, byte[] raw, String sha256, long length, Supplier<WalFormat.Encoded> encoding,
                            Instant completedAt) {
        if (file.kind() == WalFileName.Kind.SEGMENT) {
            OptionalLong system = WalFormat.systemIdentifier(raw);
            if (system.isPresent()) {
                long expected = archive.systemOf(database, file.timeline().value(), system.getAsLong());
                if (expected != system.getAsLong()) {
                    return new Refused("WAL segment " + file.name() + " was written by database system "
                            + Long.toUnsignedString(system.getAsLong()) + ", but timeline " + file.timeline().value() + " of this archive by "
                            + Long.toUnsignedString(expected) + ": another cluster writes to this archive. Nothing was stored; an"
                            + " operator must find the other writer.");
                }
            }
        }
        String key = ArchiveLayout.walKey(database, file.name());
        Optional<ObjectInfo> existing = store.head(key);
        long stored;
        if (existing.isPresent()) {
            String archived = existing.get().metadata().get(WalFormat.SHA256);
            if (!sha256.equals(archived)) {
                return conflict(file.name(), sha256, archived);
            }
            store.settle(key); // a writer stopped between its put and its fsync may have left it
            stored = existing.get().size();
        } else {
            WalFormat.Encoded encoded = encoding.get();
            store.put(key, encoded.stored(), encoded.metadata());
            stored = encoded.stored().length;
        }
        Optional<String> recorded = archive.record(database, file, length, stored, sha256, completedAt);
        return recorded.<Outcome>map(sha -> conflict(file.name(), sha256, sha)).orElse(new Stored(stored));
    }

    private static Refused conflict(String name, String sha256, String archived) {
        return new Refused("The archive already holds " + name + " with other content (sha256 " + archived + ", this server's is "
                + sha256 + "): two servers may be writing one archive. Archiving of this database is stopped and nothing was"
                + " overwritten; an operator must find the other writer.");
    }
}
