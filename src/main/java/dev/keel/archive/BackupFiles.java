package dev.keel.archive;

import dev.keel.instances.DataFile;
import dev.keel.postgres.ServerFiles;

import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Which parts of a data directory a base backup holds. Left out, as pg_basebackup leaves them out
 * (directories are kept, empty): WAL and replication slots (recovery gets WAL from the archive),
 * runtime state that is rebuilt at start, temporary files, a backup in progress's labels and
 * signals, the server's TLS private key, which never leaves its server, and
 * {@code postgresql.auto.conf}, where Keel keeps what belongs to the running server only (the
 * synchronous standby it waits for: a copy that inherited it would wait for a standby it lacks),
 * and the pg_hba and keel.conf a configure replaced (kept to be put back should the server refuse the new pg_hba).
 */
final class BackupFiles {
    private static final Set<String> SKIPPED_FILES = Stream.concat(Stream.of("postmaster.pid", "postmaster.opts", "backup_label",
            "backup_label.old", "tablespace_map", "tablespace_map.old", "recovery.signal", "standby.signal", "current_logfiles",
            "server.key", "postgresql.auto.conf", "postgresql.auto.conf.tmp"), ServerFiles.KEPT_FILES.stream())
            .collect(Collectors.toUnmodifiableSet());
    private static final Set<String> EMPTIED_DIRECTORIES = Set.of("pg_wal", "pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify",
            "pg_serial", "pg_snapshots", "pg_subtrans");

    private BackupFiles() {
    }

    static boolean included(DataFile file) {
        String path = file.path();
        int slash = path.indexOf('/');
        String top = slash < 0 ? path : path.substring(0, slash);
        if (slash > 0 && EMPTIED_DIRECTORIES.contains(top)) {
            return false;
        }
        if (!file.directory() && slash < 0 && SKIPPED_FILES.contains(path)) {
            return false;
        }
        String name = path.substring(path.lastIndexOf('/') + 1);
        return !name.startsWith("pgsql_tmp") && !name.equals("pg_internal.init");
    }
}
