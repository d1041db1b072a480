package dev.keel.archive;

import dev.keel.instances.DataFile;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a base backup copies of a data directory: its pg_hba and keel.conf, not those a configure replaced, nor the server's own state. */
class BackupFilesTest {
    @Test
    void aBackupCopiesThePgHbaAndSettingsInForceButNotThoseKeptToBePutBack() {
        assertThat(BackupFiles.included(new DataFile("pg_hba.conf", 120, false))).isTrue();
        assertThat(BackupFiles.included(new DataFile("pg_hba.conf.previous", 120, false))).as("kept to be put back, this server's only").isFalse();
        assertThat(BackupFiles.included(new DataFile("keel.conf", 90, false))).isTrue();
        assertThat(BackupFiles.included(new DataFile("keel.conf.previous", 90, false))).as("kept to be put back, this server's only").isFalse();
        assertThat(BackupFiles.included(new DataFile("postgresql.auto.conf", 80, false))).isFalse();
        assertThat(BackupFiles.included(new DataFile("base/1/1259", 8192, false))).isTrue();
        assertThat(BackupFiles.included(new DataFile("pg_wal/000000010000000000000001", 16 << 20, false))).isFalse();
    }
}
