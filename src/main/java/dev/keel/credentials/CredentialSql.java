package dev.keel.credentials;

import io.micronaut.core.annotation.Nullable;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.SQLException;

import static org.jooq.impl.DSL.quotedName;

/**
 * SQL sent to a managed instance for credentials. Identifiers are quoted by jOOQ; passwords never
 * travel as SQL text: the driver computes the SCRAM verifier and sends only that, so no
 * plaintext password can reach the server log.
 */
final class CredentialSql {
    private CredentialSql() {
    }

    /**
     * As superuser on the {@code postgres} database: the owner role, and {@code database} owned
     * by it, created new or renamed from an empty {@code placeholder} (a warm pool's).
     */
    static void createOwner(Connection superuser, String role, String password, String database, @Nullable String placeholder)
            throws SQLException {
        DSLContext sql = DSL.using(superuser, SQLDialect.POSTGRES);
        sql.execute("create role {0} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls", quotedName(role));
        setPassword(superuser, role, password);
        if (placeholder == null) {
            sql.execute("create database {0} owner {1}", quotedName(database), quotedName(role));
        } else {
            sql.execute("alter database {0} rename to {1}", quotedName(placeholder), quotedName(database));
            sql.execute("alter database {0} owner to {1}", quotedName(database), quotedName(role));
        }
        sql.execute("revoke all on database {0} from public", quotedName(database));
    }

    /** As superuser: {@code role}'s new password (sent as a SCRAM verifier). */
    static void setPassword(Connection superuser, String role, String password) throws SQLException {
        superuser.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
    }

    /** As superuser on the new database: the owner also owns {@code public}, where nobody else may create. */
    static void prepareDatabase(Connection superuserOnDatabase, String owner) throws SQLException {
        DSLContext sql = DSL.using(superuserOnDatabase, SQLDialect.POSTGRES);
        sql.execute("alter schema public owner to {0}", quotedName(owner));
        sql.execute("revoke create on schema public from public");
        sql.execute("create extension if not exists pg_stat_statements");
        // Keel owns the extension, so the owner could not restore its comment from a dump (pg:pull, pg:push): it has none.
        sql.execute("comment on extension pg_stat_statements is null");
    }

    /**
     * As superuser on the {@code postgres} database: a login role that may connect to
     * {@code database} and nothing more; the owner grants it what it should read or write.
     */
    static void createMember(Connection superuser, String role, String password, String database) throws SQLException {
        DSLContext sql = DSL.using(superuser, SQLDialect.POSTGRES);
        sql.execute("create role {0} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls", quotedName(role));
        setPassword(superuser, role, password);
        sql.execute("grant connect on database {0} to {1}", quotedName(database), quotedName(role));
    }

    static boolean roleExists(Connection superuser, String role) {
        return DSL.using(superuser, SQLDialect.POSTGRES).fetchExists(DSL.selectOne().from("pg_roles").where("rolname = {0}", role));
    }

    /** Ends every session of {@code role}; returns how many there were. */
    static int terminateSessions(Connection superuser, String role) {
        return DSL.using(superuser, SQLDialect.POSTGRES).fetchValue(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity where usename = {0}", role) instanceof Number n
                ? n.intValue() : 0;
    }

    /**
     * As superuser on the database: what {@code role} owns goes to {@code owner}, its grants go,
     * then the role itself (which must have no sessions left).
     */
    static void dropMember(Connection superuserOnDatabase, String role, String owner) throws SQLException {
        DSLContext sql = DSL.using(superuserOnDatabase, SQLDialect.POSTGRES);
        sql.execute("reassign owned by {0} to {1}", quotedName(role), quotedName(owner));
        sql.execute("drop owned by {0}", quotedName(role));
        sql.execute("drop role {0}", quotedName(role));
    }
}
