package dev.keel.lifecycle;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerSession;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.jooq.impl.DSL.inline;
import static org.jooq.impl.DSL.quotedName;
import static org.jooq.impl.DSL.val;

/**
 * SQL of an upgrade's logical replication, as Keel's superuser with a pinned {@code search_path}:
 * the publication and a replication role on the old server, the subscription on the new one, how
 * far it is, the write pause, sequences, materialized views, and the clean-up.
 */
final class UpgradeStreamSql {
    private UpgradeStreamSql() {
    }

    private static DSLContext sql(Connection connection) {
        return UpgradeSql.sql(connection);
    }

    /**
     * On the old server: a role that may connect to the database, read every row (row security too) and stream, with
     * {@code password}; a member of {@link ServerSession#UPGRADE_STREAM_GROUP}, which pg_hba admits from Keel's hosts only.
     */
    static void createStreamRole(Connection superuser, String role, String password, String database) throws SQLException {
        DSLContext sql = sql(superuser);
        if (!roleExists(sql, ServerSession.UPGRADE_STREAM_GROUP)) {
            sql.execute("create role {0} nologin", quotedName(ServerSession.UPGRADE_STREAM_GROUP)); // one upgrade per server at a time
        }
        if (!roleExists(sql, role)) {
            sql.execute("create role {0} login replication bypassrls", quotedName(role));
        }
        sql.execute("grant {0} to {1}", quotedName(ServerSession.UPGRADE_STREAM_GROUP), quotedName(role));
        sql.execute("grant pg_read_all_data to {0}", quotedName(role));
        sql.execute("grant connect on database {0} to {1}", quotedName(database), quotedName(role));
        superuser.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), "scram-sha-256");
    }

    /** The name of a slot a subscription's table copy makes on its publisher. */
    static final String TABLE_SYNC_SLOT = "^pg_[0-9]+_sync_[0-9]+_[0-9]+$";

    /** On the old server's database: a publication of every table. */
    static void createPublication(Connection superuserOnDatabase) {
        DSLContext sql = sql(superuserOnDatabase);
        sql.execute("drop publication if exists {0}", quotedName(UpgradeSql.PUBLICATION));
        sql.execute("create publication {0} for all tables", quotedName(UpgradeSql.PUBLICATION));
    }

    /**
     * On the new server's database: the subscription, which makes its slot on the old server and
     * copies every table. Sent by the driver alone, so that no error message carries its text
     * (the connection string holds a password), and with this session's statements kept out of the
     * server's log, which the tenant reads ({@code GET .../logs}): neither a failure
     * ({@code log_min_error_statement}) nor a tenant's {@code pg:settings} ({@code log_statement},
     * {@code log_min_duration_statement}) logs its text.
     */
    static void createSubscription(Connection superuserOnDatabase, String conninfo, String slot) throws SQLException {
        String text = sql(superuserOnDatabase).renderInlined(DSL.query("create subscription {0} connection {1} publication {0}"
                + " with (slot_name = {2}, copy_data = true)", quotedName(UpgradeSql.PUBLICATION), inline(conninfo), inline(slot)));
        try (Statement statement = superuserOnDatabase.createStatement()) {
            statement.execute("set log_min_error_statement = panic");
            statement.execute("set log_statement = none");
            statement.execute("set log_min_duration_statement = -1");
            statement.execute("set pg_stat_statements.track_utility = off");
            statement.execute(text);
        } catch (SQLException failed) {
            // The session may be gone (a subscription held up past the socket timeout): its settings went with it.
            if (!superuserOnDatabase.isClosed()) {
                try {
                    reset(superuserOnDatabase);
                } catch (SQLException alsoFailed) {
                    failed.addSuppressed(alsoFailed);
                }
            }
            throw failed;
        }
        reset(superuserOnDatabase);
    }

    private static void reset(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("reset log_min_error_statement; reset log_statement; reset log_min_duration_statement;"
                    + " reset pg_stat_statements.track_utility");
        }
    }

    /** Tables of the subscription that are ready (copied and streaming), and all of them. */
    static long[] tablesReady(Connection superuserOnDatabase) {
        Record row = sql(superuserOnDatabase).fetchSingle("select pg_catalog.count(*) filter (where srsubstate operator(pg_catalog.=) 'r'),"
                + " pg_catalog.count(*) from pg_catalog.pg_subscription_rel");
        return new long[] {row.get(0, Long.class), row.get(1, Long.class)};
    }

    static Lsn currentLsn(Connection superuser) {
        return Lsn.parse(UpgradeSql.value(superuser, String.class, "select pg_catalog.pg_current_wal_lsn()::text"));
    }

    /** How far the subscriber has confirmed it applied, as the old server's slot says; null before it has. */
    static Lsn confirmed(Connection superuser, String slot) {
        String lsn = sql(superuser).fetchOptional("select confirmed_flush_lsn::text from pg_catalog.pg_replication_slots"
                + " where slot_name operator(pg_catalog.=) {0}", val(slot)).map(r -> r.get(0, String.class)).orElse(null);
        return lsn == null ? null : Lsn.parse(lsn);
    }

    /** Ends every client session but this one; replication connections stay. Returns how many ended. */
    static int endClientSessions(Connection superuser) {
        return UpgradeSql.value(superuser, Integer.class, "select pg_catalog.count(pg_catalog.pg_terminate_backend(pid))"
                + " from pg_catalog.pg_stat_activity where backend_type operator(pg_catalog.=) 'client backend'"
                + " and pid operator(pg_catalog.<>) pg_catalog.pg_backend_pid()");
    }

    /** Every sequence that has been used, with its last value: (schema, name, value). */
    static List<Record> sequences(Connection superuserOnDatabase) {
        return sql(superuserOnDatabase).fetch("select schemaname::text, sequencename::text, last_value from pg_catalog.pg_sequences"
                + " where last_value is not null");
    }

    static void setSequence(Connection superuserOnDatabase, String schema, String name, long value) {
        sql(superuserOnDatabase).fetch("select pg_catalog.setval(pg_catalog.format('%I.%I', {0}::text, {1}::text)::pg_catalog.regclass,"
                + " {2}::bigint, true)", val(schema), val(name), val(value));
    }

    /** Materialized views, which logical replication does not fill: (qualified name, owner). */
    static List<Record> materializedViews(Connection superuserOnDatabase) {
        return sql(superuserOnDatabase).fetch("select pg_catalog.format('%I.%I', schemaname, matviewname), matviewowner::text"
                + " from pg_catalog.pg_matviews");
    }

    /** Fills a materialized view as its owner, so that its query runs with no more rights than the owner has. */
    static void refreshAs(Connection superuserOnDatabase, String qualifiedName, String owner) {
        DSLContext sql = sql(superuserOnDatabase);
        sql.execute("set role {0}", quotedName(owner));
        try {
            sql.execute("refresh materialized view " + qualifiedName);
        } finally {
            sql.execute("reset role");
        }
    }

    /** On the new server: the subscription gone, without touching the old server (its slot goes with it, or separately). */
    static void dropSubscription(Connection superuserOnDatabase) {
        DSLContext sql = sql(superuserOnDatabase);
        if (sql.fetchExists(DSL.selectOne().from("pg_catalog.pg_subscription").where("subname operator(pg_catalog.=) {0}",
                val(UpgradeSql.PUBLICATION)))) {
            sql.execute("alter subscription {0} disable", quotedName(UpgradeSql.PUBLICATION));
            sql.execute("alter subscription {0} set (slot_name = none)", quotedName(UpgradeSql.PUBLICATION));
            sql.execute("drop subscription {0}", quotedName(UpgradeSql.PUBLICATION));
        }
    }

    /**
     * On the old server (which serves on after a failed or canceled upgrade): the slot, publication and role gone, and the slots
     * the subscription's table copies made ({@code pg_<subscription>_sync_<table>_<system>}), which a new server discarded
     * before it could drop them leaves behind, each holding WAL. Only upgrades make slots of that form on a server of Keel's:
     * no tenant's role may replicate.
     */
    static void dropPublishing(Connection superuser, Connection superuserOnDatabase, String slot, String role) {
        String ours = "slot_name operator(pg_catalog.=) {0} or slot_name operator(pg_catalog.~) {1}";
        Object[] names = {val(slot), val(TABLE_SYNC_SLOT)};
        sql(superuser).fetch("select pg_catalog.pg_terminate_backend(active_pid) from pg_catalog.pg_replication_slots"
                + " where (" + ours + ") and active_pid is not null", names);
        for (int attempt = 0; attempt < 100 && sql(superuser).fetchExists(DSL.selectOne().from("pg_catalog.pg_replication_slots")
                .where(ours, names)); attempt++) {
            sql(superuser).fetch("select pg_catalog.pg_drop_replication_slot(slot_name) from pg_catalog.pg_replication_slots"
                    + " where (" + ours + ") and not active", names);
            pause();
        }
        sql(superuserOnDatabase).execute("drop publication if exists {0}", quotedName(UpgradeSql.PUBLICATION));
        if (roleExists(sql(superuser), role)) {
            dropRole(superuser, superuserOnDatabase, role);
        }
    }

    /**
     * Drops an upgrade stream's {@code role}: its sessions ended (a table's copy may still run as it), then its CONNECT on the
     * database ({@code drop owned}, on the database's connection): a role that still holds a privilege cannot be dropped, and
     * would stay, able to log in, stream and read every row.
     */
    static void dropRole(Connection superuser, Connection superuserOnDatabase, String role) {
        sql(superuser).fetch("select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity"
                + " where usename operator(pg_catalog.=) {0}", val(role));
        sql(superuserOnDatabase).execute("drop owned by {0}", quotedName(role));
        sql(superuser).execute("drop role {0}", quotedName(role));
    }

    private static boolean roleExists(DSLContext sql, String role) {
        return sql.fetchExists(DSL.selectOne().from("pg_catalog.pg_roles").where("rolname operator(pg_catalog.=) {0}", val(role)));
    }

    /** The upgrade stream roles on a server ({@code keel_upgrade_} and a database id), which only an upgrade running may hold. */
    static List<String> streamRoles(Connection superuser) {
        return sql(superuser).fetch("select rolname::text from pg_catalog.pg_roles where rolname operator(pg_catalog.~) {0}",
                val("^" + LogicalCopy.ROLE_PREFIX + "[0-9a-f]{32}$")).getValues(0, String.class);
    }

    private static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while dropping the upgrade's slot", e);
        }
    }
}
