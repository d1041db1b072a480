package dev.keel.archive;

import java.util.UUID;

/**
 * Where a database's archive lives in the bucket: one prefix per database, so a fork or rollback
 * (a new database) never writes where its source does.
 * <pre>
 *   &lt;database id&gt;/wal/&lt;WAL file name&gt;.zst                  segments, .history, .partial, .backup
 *   &lt;database id&gt;/streamed/&lt;segment&gt;/&lt;offset&gt;.zst        parts of the segment the WAL receiver is filling
 *   &lt;database id&gt;/backups/&lt;backup id&gt;/base.tar.zst          the data directory as a zstd tar
 *   &lt;database id&gt;/backups/&lt;backup id&gt;/manifest.json         every file's size and sha256, LSNs, timeline
 * </pre>
 * Objects carry {@code sha256} (of the uncompressed bytes) and {@code size} in their metadata.
 */
public final class ArchiveLayout {
    private ArchiveLayout() {
    }

    public static String prefix(UUID database) {
        return database + "/";
    }

    public static String walPrefix(UUID database) {
        return prefix(database) + "wal/";
    }

    public static String walKey(UUID database, String fileName) {
        return walPrefix(database) + fileName + ".zst";
    }

    /** The parts of the segment the WAL receiver is filling; removed once the segment is whole. */
    public static String streamedPrefix(UUID database, String segmentName) {
        return prefix(database) + "streamed/" + segmentName + "/";
    }

    /** The part of a streamed segment that starts {@code offset} bytes into it (eight hex digits: keys sort as offsets do). */
    public static String streamedPartKey(UUID database, String segmentName, int offset) {
        return streamedPrefix(database, segmentName) + String.format("%08x", offset) + ".zst";
    }

    /** The offset a part's key names. */
    public static int partOffset(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        return Integer.parseInt(name.substring(0, name.indexOf('.')), 16);
    }

    public static String backupPrefix(UUID database, UUID backup) {
        return prefix(database) + "backups/" + backup + "/";
    }

    public static String backupKey(UUID database, UUID backup) {
        return backupPrefix(database, backup) + "base.tar.zst";
    }

    public static String manifestKey(UUID database, UUID backup) {
        return backupPrefix(database, backup) + "manifest.json";
    }
}
