package dev.keel.dumps;

import dev.keel.archive.ArchiveLayout;

import java.util.UUID;

/**
 * Where logical backups live in the bucket, under their database's prefix (so a deleted database's
 * prefix takes them along):
 * <pre>
 *   &lt;database id&gt;/dumps/&lt;transfer id&gt;.dump    the pg_dump -Fc output, byte for byte
 *   &lt;database id&gt;/dumps/&lt;transfer id&gt;.json    its size, sha256, the database's major and the pg_dump that made it
 * </pre>
 */
final class DumpLayout {
    private DumpLayout() {
    }

    static String dumpKey(UUID database, UUID transfer) {
        return ArchiveLayout.prefix(database) + "dumps/" + transfer + ".dump";
    }

    static String manifestKey(UUID database, UUID transfer) {
        return ArchiveLayout.prefix(database) + "dumps/" + transfer + ".json";
    }
}
