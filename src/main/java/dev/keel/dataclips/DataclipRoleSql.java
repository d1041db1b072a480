package dev.keel.dataclips;

import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.jooq.impl.DSL.inline;
import static org.jooq.impl.DSL.quotedName;

/**
 * SQL sent, as superuser, to a managed primary for its dataclip role: identifiers quoted by
 * jOOQ, every function and catalog schema-qualified, names compared in Java rather than with an
 * operator a tenant could shadow, the settings Keel's own values, the password sent only as a
 * SCRAM verifier.
 *
 * <p>The role's shape: a login role that is a member of no role at all (not pg_read_all_data,
 * which reads the system catalogs too: pg_authid's password verifiers, pg_user_mapping's
 * options, pg_subscription's conninfo), with SELECT on every table, view and sequence of the
 * database's schemas and USAGE on those schemas, and the database owner's default privileges
 * giving it the same on what the owner makes later. Read-only transactions by default, its
 * statements cut off after the longest clip time limit, temp files and work_mem bounded, a few
 * connections at most.
 */
final class DataclipRoleSql {
    private DataclipRoleSql() {
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
