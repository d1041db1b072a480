package dev.keel.dataclips;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * Every statement of Keel's own that a dataclip run sends as the dataclip role (the clip's SQL,
 * and {@link CappedQuery}'s projection around it, aside): its session settings and checks, every
 * function, operator and catalog schema-qualified, values bound. What Keel runs as superuser to
 * make and shape the role is {@link dev.keel.postgres.ServerSession}'s.
 */
final class DataclipSql {
    private DataclipSql() {
    }

    /** Starts the run's transaction: READ ONLY, repeatable read. */
    static void beginReadOnly(Connection clip) throws SQLException {
        try (Statement begin = clip.createStatement()) {
            begin.execute("set transaction isolation level repeatable read, read only");
        }
    }

    /**
     * For the transaction: the clip's time limit, UTC, and no notices sent (the driver keeps
     * every notice it gets; a clip's own function could ask for them again).
     */
    static void runSettings(Connection clip, int timeoutSeconds) throws SQLException {
        try (PreparedStatement settings = clip.prepareStatement("select pg_catalog.set_config('statement_timeout', ?, true),"
                + " pg_catalog.set_config('TimeZone', 'UTC', true), pg_catalog.set_config('client_min_messages', 'error', true)")) {
            settings.setString(1, timeoutSeconds + "s");
            settings.execute();
        }
    }

    /** Whether the session's role is still a member of pg_read_all_data: a role not reshaped on this server yet. */
    static boolean readsEverything(Connection clip) throws SQLException {
        try (Statement check = clip.createStatement();
             ResultSet rs = check.executeQuery("select pg_catalog.pg_has_role('pg_read_all_data', 'MEMBER')")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** The database's own search_path setting (ALTER DATABASE ... SET), if it has one. */
    static Optional<String> databaseSearchPath(Connection clip) throws SQLException {
        try (Statement query = clip.createStatement(); ResultSet rs = query.executeQuery("select s.setconfig from"
                + " pg_catalog.pg_db_role_setting s join pg_catalog.pg_database d on d.oid operator(pg_catalog.=) s.setdatabase"
                + " where d.datname operator(pg_catalog.=) pg_catalog.current_database()"
                + " and s.setrole operator(pg_catalog.=) 0::pg_catalog.oid")) {
            while (rs.next()) {
                for (String setting : (String[]) rs.getArray(1).getArray()) {
                    if (setting.startsWith("search_path=")) {
                        return Optional.of(setting.substring("search_path=".length()));
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** The search_path for the rest of the transaction. */
    static void searchPath(Connection clip, String path) throws SQLException {
        try (PreparedStatement set = clip.prepareStatement("select pg_catalog.set_config('search_path', ?, true)")) {
            set.setString(1, path);
            set.execute();
        }
    }

    /** Whether the session holds advisory locks; if so, releases them all. */
    static boolean releasedAdvisoryLocks(Connection clip) throws SQLException {
        try (Statement check = clip.createStatement(); ResultSet rs = check.executeQuery(
                "select pg_catalog.count(*) from pg_catalog.pg_locks where pid operator(pg_catalog.=) pg_catalog.pg_backend_pid()"
                        + " and locktype operator(pg_catalog.=) 'advisory'")) {
            rs.next();
            if (rs.getLong(1) == 0) {
                return false;
            }
        }
        try (Statement release = clip.createStatement()) {
            release.execute("select pg_catalog.pg_advisory_unlock_all()");
        }
        return true;
    }
}
