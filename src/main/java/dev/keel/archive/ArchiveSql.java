package dev.keel.archive;

import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.time.Instant;
import java.time.OffsetDateTime;

/** What the server itself says about its WAL and archiving. */
final class ArchiveSql {
    private ArchiveSql() {
    }

    /** The server's WAL position and its archiver's last success and failure. */
    record ServerWal(Lsn current, @Nullable Instant lastArchivedAt, @Nullable Instant lastFailedAt, @Nullable String lastFailedWal) {
    }

    static ServerWal serverWal(Connection connection) {
        Record r = DSL.using(connection, SQLDialect.POSTGRES).fetchSingle(
                "select pg_current_wal_lsn()::text, last_archived_time, last_failed_time, last_failed_wal from pg_stat_archiver");
        return new ServerWal(Lsn.parse(r.get(0, String.class)), instant(r.get(1, OffsetDateTime.class)),
                instant(r.get(2, OffsetDateTime.class)), r.get(3, String.class));
    }

    private static Instant instant(OffsetDateTime time) {
        return time == null ? null : time.toInstant();
    }
}
