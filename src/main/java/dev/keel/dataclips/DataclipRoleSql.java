package dev.keel.dataclips;

import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.SQLException;

import static org.jooq.impl.DSL.inline;
import static org.jooq.impl.DSL.quotedName;

/**
 * SQL sent to a managed primary for the dataclip role: identifiers quoted by jOOQ, the settings
 * Keel's own numbers, and the password sent only as a SCRAM verifier.
 */
final class DataclipRoleSql {
    private DataclipRoleSql() {
    }

    /**
     * As superuser on the primary: a login role that reads every table (pg_read_all_data) and
     * nothing more: not a superuser, no pg_write_* role, read-only transactions by default, its
     * statements cut off after {@code timeoutSeconds}, a few connections at most.
     */
    static void create(Connection superuser, String role, String password, String database, int timeoutSeconds, int connections)
            throws SQLException {
        DSLContext sql = DSL.using(superuser, SQLDialect.POSTGRES);
        sql.execute("create role {0} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls inherit connection limit {1}",
                quotedName(role), inline(connections));
        superuser.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
        sql.execute("grant pg_read_all_data to {0}", quotedName(role));
        sql.execute("grant connect on database {0} to {1}", quotedName(database), quotedName(role));
        sql.execute("alter role {0} set default_transaction_read_only = on", quotedName(role));
        sql.execute("alter role {0} set statement_timeout = {1}", quotedName(role), inline(timeoutSeconds + "s"));
        sql.execute("alter role {0} set idle_in_transaction_session_timeout = {1}", quotedName(role), inline("60s"));
    }
}
