package dev.keel.lifecycle;

import org.jooq.DSLContext;
import org.jooq.QueryPart;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static org.jooq.impl.DSL.inline;
import static org.jooq.impl.DSL.quotedName;
import static org.jooq.impl.DSL.val;

/**
 * SQL an upgrade sends to the old and the new server, as Keel's superuser. Each session first pins
 * {@code search_path} to {@code pg_catalog, pg_temp}, every name is schema-qualified and every
 * operator written as {@code operator(pg_catalog.=)}: a tenant's functions and operators are never
 * resolved. Identifiers are quoted by jOOQ, values are bind parameters.
 */
final class UpgradeSql {
    static final String PUBLICATION = "keel_upgrade";
    private static final String USER_TABLES = "from pg_catalog.pg_class c join pg_catalog.pg_namespace n"
            + " on n.oid operator(pg_catalog.=) c.relnamespace where c.relkind operator(pg_catalog.=) 'r'"
            + " and n.nspname operator(pg_catalog.<>) all (array['pg_catalog', 'information_schema', 'keel_pool'])"
            + " and n.nspname operator(pg_catalog.!~) '^pg_(toast|temp)'";

    private static final Set<String> LIST_SETTINGS = Set.of("search_path", "temp_tablespaces");
    private static final Pattern NAME_LIST = Pattern.compile("(\"(?:[^\"]|\"\")*\"|[A-Za-z0-9_$]+)(\\s*,\\s*(\"(?:[^\"]|\"\")*\"|[A-Za-z0-9_$]+))*");

    private UpgradeSql() {
    }

    static DSLContext sql(Connection connection) {
        DSLContext sql = DSL.using(connection, SQLDialect.POSTGRES);
        sql.fetch("select pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)");
        return sql;
    }

    /** The first column of the one row {@code query} returns. */
    static <T> T value(Connection connection, Class<T> type, String query, QueryPart... parts) {
        return sql(connection).fetchSingle(query, (Object[]) parts).get(0, type);
    }

    /** Ordinary permanent tables without a replica identity (no primary key, or REPLICA IDENTITY NOTHING). */
    static List<String> tablesWithoutReplicaIdentity(Connection connection) {
        return sql(connection).fetch("select pg_catalog.format('%I.%I', n.nspname, c.relname) " + USER_TABLES
                + " and c.relpersistence operator(pg_catalog.=) 'p' and (c.relreplident operator(pg_catalog.=) 'n'"
                + " or (c.relreplident operator(pg_catalog.=) 'd' and not exists (select from pg_catalog.pg_index i"
                + " where i.indrelid operator(pg_catalog.=) c.oid and i.indisprimary))) order by 1").getValues(0, String.class);
    }

    static List<String> unloggedTables(Connection connection) {
        return sql(connection).fetch("select pg_catalog.format('%I.%I', n.nspname, c.relname) " + USER_TABLES
                + " and c.relpersistence operator(pg_catalog.=) 'u' order by 1").getValues(0, String.class);
    }

    static long largeObjects(Connection connection) {
        return value(connection, Long.class, "select pg_catalog.count(*) from pg_catalog.pg_largeobject_metadata");
    }

    /** The server's current timeline. */
    static int timeline(Connection connection) {
        return value(connection, Integer.class, "select timeline_id from pg_catalog.pg_control_checkpoint()");
    }

    /** Roles of the old server to make on the new one: all but Keel's own, predefined and replication roles. */
    static List<Record> roles(Connection connection) {
        return sql(connection).fetch("select rolname, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls, rolconnlimit,"
                + " rolpassword, rolvaliduntil from pg_catalog.pg_authid where not rolsuper and not rolreplication"
                + " and rolname operator(pg_catalog.!~) '^(pg_|keel$|keel_|follower_|standby_)' order by rolname");
    }

    /**
     * Memberships among those roles and in predefined ones, on a server of {@code major}: (role,
     * member, admin option, inherit option, set option), the options of all its grantors together.
     * Before 16 a membership has no inherit and set options of its own (both null).
     */
    static List<Record> memberships(Connection connection, int major) {
        String options = major >= 16 ? "pg_catalog.bool_or(a.inherit_option), pg_catalog.bool_or(a.set_option)" : "null::pg_catalog.bool, null::pg_catalog.bool";
        return sql(connection).fetch("select r.rolname, m.rolname, pg_catalog.bool_or(a.admin_option), " + options
                + " from pg_catalog.pg_auth_members a"
                + " join pg_catalog.pg_roles r on r.oid operator(pg_catalog.=) a.roleid"
                + " join pg_catalog.pg_roles m on m.oid operator(pg_catalog.=) a.member"
                + " where m.rolname operator(pg_catalog.!~) '^(pg_|keel$|keel_|follower_|standby_)' group by r.rolname, m.rolname");
    }

    /** Per-role settings (ALTER ROLE ... SET) and the database's own: (role or null, database or null, setting=value). */
    static List<Record> settings(Connection connection, String database) {
        return sql(connection).fetch("select r.rolname, d.datname, pg_catalog.unnest(s.setconfig) from pg_catalog.pg_db_role_setting s"
                + " left join pg_catalog.pg_roles r on r.oid operator(pg_catalog.=) s.setrole"
                + " left join pg_catalog.pg_database d on d.oid operator(pg_catalog.=) s.setdatabase"
                + " where (d.datname is null or d.datname operator(pg_catalog.=) {0})"
                + " and (r.rolname is null or r.rolname operator(pg_catalog.!~) '^(pg_|keel$|keel_|follower_|standby_)')", val(database));
    }

    /** Who may do what on the database (GRANT ... ON DATABASE): (grantee or null for PUBLIC, privilege). */
    static List<Record> databaseGrants(Connection connection, String database) {
        return sql(connection).fetch("select r.rolname, a.privilege_type from pg_catalog.pg_database d,"
                + " pg_catalog.aclexplode(d.datacl) a left join pg_catalog.pg_roles r on r.oid operator(pg_catalog.=) a.grantee"
                + " where d.datname operator(pg_catalog.=) {0} and a.grantee operator(pg_catalog.<>) d.datdba", val(database));
    }

    static String databaseOwner(Connection connection, String database) {
        return value(connection, String.class, "select r.rolname from pg_catalog.pg_database d join pg_catalog.pg_roles r"
                + " on r.oid operator(pg_catalog.=) d.datdba where d.datname operator(pg_catalog.=) {0}", val(database));
    }

    static void createRole(Connection connection, Record role) {
        String name = role.get(0, String.class);
        String password = role.get(7, String.class);
        String validUntil = role.get(8) == null ? null : role.get(8).toString();
        sql(connection).execute("create role {0} with nosuperuser noreplication " + flag(role.get(1, Boolean.class), "inherit")
                + " " + flag(role.get(2, Boolean.class), "createrole") + " " + flag(role.get(3, Boolean.class), "createdb") + " "
                + flag(role.get(4, Boolean.class), "login") + " " + flag(role.get(5, Boolean.class), "bypassrls")
                + " connection limit {1} password {2} valid until {3}", quotedName(name), inline(role.get(6, Integer.class)),
                password == null ? DSL.keyword("null") : inline(password), validUntil == null ? inline("infinity") : inline(validUntil));
    }

    private static String flag(Boolean on, String attribute) {
        return Boolean.TRUE.equals(on) ? attribute : "no" + attribute;
    }

    /** Grants a membership as {@link #memberships} read it; inherit and set options only where it read them. */
    static void grantMembership(Connection connection, Record membership) {
        String role = membership.get(0, String.class);
        String member = membership.get(1, String.class);
        boolean admin = membership.get(2, Boolean.class);
        Boolean inherit = membership.get(3, Boolean.class);
        Boolean set = membership.get(4, Boolean.class);
        String options = inherit == null || set == null ? (admin ? " with admin option" : "")
                : " with admin " + admin + ", inherit " + inherit + ", set " + set;
        sql(connection).execute("grant {0} to {1}" + options, quotedName(role), quotedName(member));
    }

    /** Settings that a newer major knows under another name, by the name they had before it. */
    private static final Map<String, Renamed> RENAMED = Map.of("force_parallel_mode", new Renamed(16, "debug_parallel_query"));

    private record Renamed(int since, String name) {
    }

    /** {@code setting} ({@code name=value}) as Postgres {@code major} names it. */
    static String forMajor(String setting, int major) {
        int eq = setting.indexOf('=');
        Renamed renamed = RENAMED.get(setting.substring(0, eq));
        return renamed == null || major < renamed.since() ? setting : renamed.name() + setting.substring(eq);
    }

    /**
     * {@code setting} is {@code name=value} as pg_db_role_setting keeps it. A list setting
     * ({@code search_path}, {@code temp_tablespaces}) is kept as its list of (quoted where needed)
     * names and given back as that list, once it is checked to be nothing else; any other value is
     * one literal.
     */
    static void applySetting(Connection connection, String role, String database, String setting) {
        int eq = setting.indexOf('=');
        String name = setting.substring(0, eq);
        QueryPart value = LIST_SETTINGS.contains(name) ? list(setting.substring(eq + 1)) : inline(setting.substring(eq + 1));
        if (role == null) {
            sql(connection).execute("alter database {0} set {1} = {2}", quotedName(database), quotedName(name), value);
        } else if (database == null) {
            sql(connection).execute("alter role {0} set {1} = {2}", quotedName(role), quotedName(name), value);
        } else {
            sql(connection).execute("alter role {0} in database {1} set {2} = {3}", quotedName(role), quotedName(database),
                    quotedName(name), value);
        }
    }

    private static QueryPart list(String names) {
        if (!NAME_LIST.matcher(names).matches()) {
            throw new IllegalArgumentException("not a list of names: " + names);
        }
        return DSL.raw(names);
    }

    static void createDatabase(Connection connection, String database, String owner) {
        sql(connection).execute("create database {0} owner {1} template template0 encoding 'UTF8' locale 'C'", quotedName(database),
                quotedName(owner));
        sql(connection).execute("revoke all on database {0} from public", quotedName(database));
    }

    static void grantOnDatabase(Connection connection, String database, String privilege, String grantee) {
        sql(connection).execute("grant " + switch (privilege) {
            case "CONNECT" -> "connect";
            case "CREATE" -> "create";
            case "TEMPORARY" -> "temporary";
            default -> throw new IllegalArgumentException("not a database privilege: " + privilege);
        } + " on database {0} to {1}", quotedName(database), grantee == null ? DSL.keyword("public") : quotedName(grantee));
    }
}
