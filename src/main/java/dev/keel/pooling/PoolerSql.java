package dev.keel.pooling;

import dev.keel.instances.InstanceConfig;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.SQLException;

import static org.jooq.impl.DSL.quotedName;

/**
 * SQL Keel sends to a database's primary so that its PgBouncer can authenticate clients with
 * {@code auth_query}: a login role with no rights but one, executing
 * {@code keel_pool.lookup(name)}: a {@code SECURITY DEFINER} function owned by Keel's superuser
 * with a pinned {@code search_path}, every name in it schema-qualified, in a schema the
 * database's owner can neither write nor replace, that returns the SCRAM verifier of ordinary
 * login roles only (never a superuser's, a replication role's or one of Keel's own).
 */
final class PoolerSql {
    static final String ROLE = "keel_pooler";
    static final String SCHEMA = "keel_pool";
    static final String AUTH_QUERY = "SELECT usename, passwd FROM keel_pool.lookup($1)";
    private static final String LOOKUP = "create or replace function keel_pool.lookup(i_username text, out usename name, out passwd text)"
            + " returns setof record language sql stable security definer set search_path = pg_catalog, pg_temp as $$"
            + " select a.rolname, a.rolpassword from pg_catalog.pg_authid a"
            + " where a.rolname operator(pg_catalog.=) i_username"
            + " and a.rolcanlogin and not a.rolsuper and not a.rolreplication and not a.rolbypassrls"
            + " and a.rolname operator(pg_catalog.!~) '^(keel$|keel_|pg_|follower_|standby_|dataclips_)'"
            + " $$";

    private PoolerSql() {
    }

    private static DSLContext sql(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES);
    }

    /** As superuser: the auth role exists, with {@code password} (sent as a SCRAM verifier) and a pinned search_path. */
    static void ensureRole(Connection superuser, String password) throws SQLException {
        DSLContext sql = sql(superuser);
        if (!sql.fetchExists(DSL.selectOne().from("pg_catalog.pg_roles").where("rolname operator(pg_catalog.=) {0}", ROLE))) {
            sql.execute("create role {0} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls", quotedName(ROLE));
        }
        sql.execute("alter role {0} nosuperuser nocreatedb nocreaterole noreplication nobypassrls login", quotedName(ROLE));
        sql.execute("alter role {0} set search_path = pg_catalog, pg_temp", quotedName(ROLE));
        superuser.unwrap(PGConnection.class).alterUserPassword(ROLE, password.toCharArray(), "scram-sha-256");
    }

    /**
     * As superuser on the database: the lookup schema and function as described above. A schema
     * of that name that is not Keel's (a tenant made it first) is renamed out of the way, kept.
     */
    static void ensureLookup(Connection superuserOnDatabase, String database) {
        DSLContext sql = sql(superuserOnDatabase);
        String owner = sql.fetchOptional("select r.rolname from pg_catalog.pg_namespace n join pg_catalog.pg_roles r"
                + " on r.oid operator(pg_catalog.=) n.nspowner where n.nspname operator(pg_catalog.=) {0}", DSL.val(SCHEMA))
                .map(r -> r.get(0, String.class)).orElse(null);
        if (owner != null && !owner.equals(InstanceConfig.SUPERUSER)) {
            sql.execute("alter schema {0} rename to {1}", quotedName(SCHEMA), quotedName(SCHEMA + "_not_keels_" + System.currentTimeMillis()));
        }
        sql.execute("create schema if not exists {0} authorization {1}", quotedName(SCHEMA), quotedName(InstanceConfig.SUPERUSER));
        sql.execute("revoke all on schema {0} from public", quotedName(SCHEMA));
        sql.execute(LOOKUP);
        sql.execute("alter function keel_pool.lookup(text) owner to {0}", quotedName(InstanceConfig.SUPERUSER));
        sql.execute("revoke all on function keel_pool.lookup(text) from public");
        sql.execute("grant usage on schema {0} to {1}", quotedName(SCHEMA), quotedName(ROLE));
        sql.execute("grant execute on function keel_pool.lookup(text) to {0}", quotedName(ROLE));
        sql.execute("grant connect on database {0} to {1}", quotedName(database), quotedName(ROLE));
    }
}
