package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;

/**
 * SQL of a non-exclusive base backup, run as superuser in one session from start to stop
 * (closing the session aborts it). Postgres 15 renamed the functions; 14 takes an
 * {@code exclusive} argument that must be false.
 */
final class BackupSql {
    private BackupSql() {
    }

    record Started(Lsn lsn, TimelineId timeline) {
    }

    record Stopped(Lsn lsn, String backupLabel, String tablespaceMap) {
    }

    private static DSLContext sql(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES);
    }

    /** Starts the backup with an immediate checkpoint. */
    static Started start(Connection connection, int major, String label) {
        String function = major >= 15 ? "pg_backup_start({0}, true)" : "pg_start_backup({0}, true, false)";
        String lsn = sql(connection).fetchValue(DSL.field(function + "::text", String.class, DSL.val(label)));
        int timeline = sql(connection).fetchValue(DSL.field("(select timeline_id from pg_control_checkpoint())", Integer.class));
        return new Started(Lsn.parse(lsn), new TimelineId(timeline));
    }

    /** Ends the backup without waiting for WAL archiving (Keel waits itself, with a switch first). */
    static Stopped stop(Connection connection, int major) {
        String from = major >= 15 ? "pg_backup_stop(false)" : "pg_stop_backup(false, false)";
        Record r = sql(connection).fetchSingle("select lsn::text, labelfile, spcmapfile from " + from);
        return new Stopped(Lsn.parse(r.get(0, String.class)), r.get(1, String.class), r.get(2, String.class));
    }

    /** Completes the current segment, so that it is archived, and returns where WAL is now. */
    static Lsn switchWal(Connection connection) {
        return Lsn.parse(sql(connection).fetchValue(DSL.field("pg_switch_wal()::text", String.class)));
    }
}
