package dev.keel.dataclips;

import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.jooq.impl.DSL.inline;
import static org.jooq.impl.DSL.quotedName;

/**
 * Every statement of Keel's own that dataclips send to a managed server (the clip's SQL, and
 * {@link CappedQuery}'s projection around it, aside): as superuser on the primary, the dataclip
 * role's making and shape; as that role, its run's session settings and checks. Identifiers
 * quoted by jOOQ, values bound, every function, operator and catalog schema-qualified (or names
 * compared in Java), the password sent only as a SCRAM verifier.
 *
 * <p>The role's shape: a login role that is a member of no role at all (not pg_read_all_data,
 * which reads the system catalogs too: pg_authid's password verifiers, pg_user_mapping's
 * options, pg_subscription's conninfo), with SELECT on every table, view and sequence of the
 * database's schemas and USAGE on those schemas, and the database owner's default privileges
 * giving it the same on what the owner makes later. Read-only transactions by default, its
 * statements cut off after the longest clip time limit, temp files and work_mem bounded, a few
 * connections at most.
 */
final class DataclipSql {
    private DataclipSql() {
    }

    /** What Keel sets on a dataclip role; {@link #fingerprint()} is kept in the catalog, and a role made otherwise is reshaped. */
    record Shape(int timeoutSeconds, int connections, String tempFileLimit, String workMem) {
        /** Bump when the SQL below changes what a role holds. */
        private static final int VERSION = 2;

        String fingerprint() {
            return "v" + VERSION + " timeout=" + timeoutSeconds + "s connections=" + connections + " temp_file_limit=" + tempFileLimit
                    + " work_mem=" + workMem;
        }
    }

    /** As superuser on the primary: a new role of {@code shape} on {@code database}. */
    static void create(Connection superuser, String role, String password, String database, Shape shape) throws SQLException {
        DSL.using(superuser, SQLDialect.POSTGRES).execute("create role {0} login noinherit", quotedName(role));
        superuser.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
        reshape(superuser, role, database, shape);
    }

    /**
     * As superuser on the primary: gives an existing role {@code shape}, taking away whatever it
     * held beyond it (a role made before this shape was a member of pg_read_all_data).
     */
    static void reshape(Connection superuser, String role, String database, Shape shape) throws SQLException {
        DSLContext sql = DSL.using(superuser, SQLDialect.POSTGRES);
        sql.execute("alter role {0} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit connection limit {1}",
                quotedName(role), inline(shape.connections()));
        for (String member : strings(superuser, "select g.rolname, r.rolname from pg_catalog.pg_auth_members m"
                + " join pg_catalog.pg_roles g on g.oid operator(pg_catalog.=) m.roleid"
                + " join pg_catalog.pg_roles r on r.oid operator(pg_catalog.=) m.member", role, 1)) {
            sql.execute("revoke {0} from {1}", quotedName(member), quotedName(role));
        }
        sql.execute("grant connect on database {0} to {1}", quotedName(database), quotedName(role));
        sql.execute("alter role {0} set default_transaction_read_only = on", quotedName(role));
        sql.execute("alter role {0} set statement_timeout = {1}", quotedName(role), inline(shape.timeoutSeconds() + "s"));
        sql.execute("alter role {0} set idle_in_transaction_session_timeout = {1}", quotedName(role), inline("60s"));
        sql.execute("alter role {0} set temp_file_limit = {1}", quotedName(role), inline(shape.tempFileLimit()));
        sql.execute("alter role {0} set work_mem = {1}", quotedName(role), inline(shape.workMem()));
        for (String schema : schemas(superuser)) {
            sql.execute("grant usage on schema {0} to {1}", quotedName(schema), quotedName(role));
            sql.execute("grant select on all tables in schema {0} to {1}", quotedName(schema), quotedName(role));
            sql.execute("grant select on all sequences in schema {0} to {1}", quotedName(schema), quotedName(role));
        }
        String owner = owner(superuser, database);
        sql.execute("alter default privileges for role {0} grant usage on schemas to {1}", quotedName(owner), quotedName(role));
        sql.execute("alter default privileges for role {0} grant select on tables to {1}", quotedName(owner), quotedName(role));
        sql.execute("alter default privileges for role {0} grant select on sequences to {1}", quotedName(owner), quotedName(role));
    }

    /** The database's schemas but the system's own (pg_catalog, pg_toast, temporary ones, information_schema). */
    private static List<String> schemas(Connection superuser) throws SQLException {
        List<String> schemas = new ArrayList<>();
        for (String name : strings(superuser, "select nspname, nspname from pg_catalog.pg_namespace", null, 0)) {
            if (!name.startsWith("pg_") && !name.equals("information_schema")) {
                schemas.add(name);
            }
        }
        return schemas;
    }

    private static String owner(Connection superuser, String database) throws SQLException {
        List<String> owners = strings(superuser, "select pg_catalog.pg_get_userbyid(datdba), datname from pg_catalog.pg_database",
                database, 1);
        if (owners.size() != 1) {
            throw new SQLException("database " + database + " not found on its server");
        }
        return owners.get(0);
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

    /**
     * The first column of {@code query}'s rows, of those whose column {@code matchColumn}
     * (1-based; 0: all rows) equals {@code match}, compared here rather than with a server operator.
     */
    private static List<String> strings(Connection superuser, String query, String match, int matchColumn) throws SQLException {
        List<String> values = new ArrayList<>();
        try (Statement statement = superuser.createStatement(); ResultSet rs = statement.executeQuery(query)) {
            while (rs.next()) {
                if (matchColumn == 0 || match.equals(rs.getString(matchColumn + 1))) {
                    values.add(rs.getString(1));
                }
            }
        }
        return values;
    }
}
