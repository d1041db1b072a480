package dev.keel.instances;

import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;

import static org.jooq.impl.DSL.quotedName;

/** SQL Keel sends to an instance as its superuser for the instance's own upkeep. */
final class InstanceSql {
    private InstanceSql() {
    }

    private static DSLContext sql(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES);
    }

    /** The running value of a server setting. */
    static String show(Connection connection, String setting) {
        return sql(connection).fetchValue(DSL.field("current_setting({0})", String.class, DSL.val(setting)));
    }

    /**
     * Asks the server to reread its configuration files (settings that need no restart, pg_hba)
     * and returns the server's clock just before, for {@link #configurationLoadedSince}.
     */
    static java.time.OffsetDateTime reloadConfiguration(Connection connection) {
        java.time.OffsetDateTime before = sql(connection).fetchValue(DSL.field("clock_timestamp()", java.time.OffsetDateTime.class));
        sql(connection).fetch("select pg_reload_conf()");
        return before;
    }

    /**
     * Whether a new connection's backend runs with configuration loaded at or after {@code time}:
     * the reload is asynchronous, and only then does pg_hba admit what it now allows.
     */
    static boolean configurationLoadedSince(Connection newConnection, java.time.OffsetDateTime time) {
        return sql(newConnection).fetchValue(DSL.field("pg_conf_load_time() >= {0}", Boolean.class, DSL.val(time)));
    }

    static void createDatabase(Connection connection, String database) {
        sql(connection).execute("create database {0}", quotedName(database));
    }

    static void createStatementStatistics(Connection connectionOnDatabase) {
        sql(connectionOnDatabase).execute("create extension if not exists pg_stat_statements");
        // Keel owns it, so its owner could not restore its comment from a dump: it has none.
        sql(connectionOnDatabase).execute("comment on extension pg_stat_statements is null");
    }
}
