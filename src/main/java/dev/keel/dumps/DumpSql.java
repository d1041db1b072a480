package dev.keel.dumps;

import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;

/** SQL Keel sends to managed servers for logical backups and restores; every name schema-qualified. */
final class DumpSql {
    private DumpSql() {
    }

    /** The size of the connection's database ({@code pg_database_size}), as pg:backups shows it. */
    static long databaseSize(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES)
                .fetchValue(DSL.field("pg_catalog.pg_database_size(pg_catalog.current_database())", Long.class));
    }
}
