package dev.keel.archive;

import io.micronaut.serde.annotation.Serdeable;

import java.util.List;

/**
 * {@code manifest.json} of a base backup: what the tar holds, so a restore can check every file
 * as it unpacks it. {@code backup_label} (and {@code tablespace_map}) are the last files.
 */
@Serdeable
public record BackupManifest(int format, String backupId, String databaseId, int postgresMajor, String startLsn, String stopLsn,
                             int timeline, String startedAt, String finishedAt, long sizeBytes, long storedBytes,
                             String objectSha256, List<Entry> files) {
    public static final int FORMAT = 1;

    /** A file or directory of the backup; {@code sha256} is null for directories. */
    @Serdeable
    public record Entry(String path, long size, boolean directory, String sha256) {
    }
}
