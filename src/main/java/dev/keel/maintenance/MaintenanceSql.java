package dev.keel.maintenance;

import org.jooq.DSLContext;
import org.jooq.QueryPart;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.jooq.impl.DSL.quotedName;
import static org.jooq.impl.DSL.val;

/**
 * Every statement this package sends to a managed server, as Keel's superuser. The tenant owns
 * objects in its database and may set {@code search_path} on it and its roles, so: the session's
 * {@code search_path} is pinned to {@code pg_catalog, pg_temp} first ({@link #pin}); every
 * function, table and view named here is {@code pg_catalog}'s; identifiers are quoted by jOOQ,
 * values are bind parameters; no tenant function, operator or view is ever called. The diagnosis
 * queries take no lock on the tenant's tables (sizes come from {@code pg_class.relpages}, as of
 * the last vacuum or analyze), so a session holding an exclusive lock cannot stall them.
 */
final class MaintenanceSql {
    /** Schemas Postgres owns; every other one is the tenant's (temporary ones end with their sessions). */
    private static final String TENANT_SCHEMAS = "select n.nspname from pg_catalog.pg_namespace n where n.nspname not in"
            + " ('pg_catalog', 'information_schema', 'pg_toast') and pg_catalog.left(n.nspname, 7) <> 'pg_temp'"
            + " and pg_catalog.left(n.nspname, 13) <> 'pg_toast_temp' order by n.nspname";

    private MaintenanceSql() {
    }

    static DSLContext sql(Connection connection) {
        return DSL.using(connection, SQLDialect.POSTGRES);
    }

    /**
     * Undoes what the owner may have set on its database ({@code ALTER DATABASE ... SET}) for every
     * session there, Keel's included: this session acts as Keel's own role, not one the owner named
     * ({@code role}); resolves every unqualified name in pg_catalog first ({@code search_path}); may
     * write; and waits as long as Keel's own limits say, not the owner's. The first statement of
     * every session of this package.
     */
    static void pin(Connection connection) {
        sql(connection).fetch("select pg_catalog.set_config('role', 'none', false),"
                + " pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false),"
                + " pg_catalog.set_config('default_transaction_read_only', 'off', false),"
                + " pg_catalog.set_config('statement_timeout', '0', false), pg_catalog.set_config('lock_timeout', '0', false),"
                + " pg_catalog.set_config('idle_in_transaction_session_timeout', '0', false),"
                + " pg_catalog.set_config('idle_session_timeout', '0', false),"
                + " pg_catalog.set_config('standard_conforming_strings', 'on', false)");
    }

    // ---- pg:killall and pg:reset -------------------------------------------------------------

    /** Ends the client sessions of {@code roles} on database {@code database}; returns how many. */
    static int terminateSessions(Connection connection, String database, List<String> roles) {
        Object ended = sql(connection).fetchValue("select pg_catalog.count(pg_catalog.pg_terminate_backend(a.pid))"
                + " from pg_catalog.pg_stat_activity a where a.datname = {0} and a.backend_type = 'client backend'"
                + " and a.usename = any({1}) and a.pid <> pg_catalog.pg_backend_pid()", val(database), val(roles.toArray(String[]::new)));
        return ((Number) ended).intValue();
    }

    /** Ends every client session on database {@code database} but this one and Keel's own ({@code keelRole}); returns how many. */
    static int terminateAllSessions(Connection connection, String database, String keelRole) {
        Object ended = sql(connection).fetchValue("select pg_catalog.count(pg_catalog.pg_terminate_backend(a.pid))"
                + " from pg_catalog.pg_stat_activity a where a.datname = {0} and a.backend_type = 'client backend'"
                + " and a.usename <> {1} and a.pid <> pg_catalog.pg_backend_pid()", val(database), val(keelRole));
        return ((Number) ended).intValue();
    }

    /** Session limits for a reset: waits for a lock at most {@code lockSeconds}. */
    static void limitLockWaits(Connection connection, int lockSeconds) {
        sql(connection).fetch("select pg_catalog.set_config('lock_timeout', {0}, false)", val(lockSeconds + "s"));
    }

    /** Every extension but plpgsql (some live in pg_catalog, such as a trusted language's). */
    static List<String> extensions(Connection connection) {
        return sql(connection).fetch("select e.extname from pg_catalog.pg_extension e where e.extname <> 'plpgsql' order by e.extname")
                .getValues(0, String.class);
    }

    static void dropExtension(Connection connection, String extension) {
        sql(connection).execute("drop extension if exists {0} cascade", quotedName(extension));
    }

    static List<String> tenantSchemas(Connection connection) {
        return sql(connection).fetch(TENANT_SCHEMAS).getValues(0, String.class);
    }

    static void dropSchema(Connection connection, String schema) {
        sql(connection).execute("drop schema if exists {0} cascade", quotedName(schema));
    }

    /** Up to {@code limit} tables, views and sequences of {@code schema}, for dropping a schema too large for one transaction's locks. */
    static List<String> relations(Connection connection, String schema, int limit) {
        return sql(connection).fetch("select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
                        + " where n.nspname = {0} and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') order by c.oid limit {1}",
                val(schema), val(limit)).getValues(0, String.class);
    }

    static void dropRelation(Connection connection, String schema, String relation) {
        // The kind may have changed since it was listed: drop whichever it is now.
        Record kind = sql(connection).fetchOne("select c.relkind::text from pg_catalog.pg_class c join pg_catalog.pg_namespace n"
                + " on n.oid = c.relnamespace where n.nspname = {0} and c.relname = {1}", val(schema), val(relation));
        if (kind == null) {
            return;
        }
        String what = switch (kind.get(0, String.class)) {
            case "v" -> "view";
            case "m" -> "materialized view";
            case "f" -> "foreign table";
            case "S" -> "sequence";
            default -> "table";
        };
        sql(connection).execute("drop " + what + " if exists {0} cascade", quotedName(schema, relation));
    }

    /** What is not in any schema: publications, large objects, the database's and its roles' settings there. */
    static void dropDatabaseWide(Connection connection, String database, List<String> roles) {
        DSLContext sql = sql(connection);
        for (String publication : sql.fetch("select p.pubname from pg_catalog.pg_publication p").getValues(0, String.class)) {
            sql.execute("drop publication if exists {0}", quotedName(publication));
        }
        sql.fetch("select pg_catalog.lo_unlink(l.oid) from pg_catalog.pg_largeobject_metadata l");
        sql.execute("alter database {0} reset all", quotedName(database));
        for (String role : roles) {
            sql.execute("alter role {0} in database {1} reset all", quotedName(role), quotedName(database));
        }
    }

    /**
     * A new {@code public} owned by {@code owner}, usable by everyone and writable only by its
     * owner (as Keel provisions it), with Keel's statement statistics; made in the transaction
     * that finds it empty, so the extension's script meets no tenant object.
     */
    static void recreatePublic(Connection connection, String owner) {
        DSLContext sql = sql(connection);
        sql.execute("create schema public authorization {0}", quotedName(owner));
        sql.execute("grant usage on schema public to public");
        sql.execute("create extension if not exists pg_stat_statements with schema public");
        sql.execute("comment on extension pg_stat_statements is null"); // Keel's, so the owner could not restore the comment
    }

    /** Extensions the owner could create itself ({@code trusted}), among {@code wanted}. */
    static List<String> trustedExtensions(Connection connection, List<String> wanted) {
        return sql(connection).fetch("select distinct v.name from pg_catalog.pg_available_extension_versions v where v.trusted"
                + " and v.name = any({0}) order by v.name", val(wanted.toArray(String[]::new))).getValues(0, String.class);
    }

    /** Creates a trusted extension in {@code public} as {@code owner} would (it owns it), in the reset's transaction. */
    static void createExtensionAs(Connection connection, String owner, String extension) {
        DSLContext sql = sql(connection);
        sql.execute("set local role {0}", quotedName(owner));
        sql.execute("create extension if not exists {0} with schema public", quotedName(extension));
        sql.execute("reset role");
    }

    // ---- pg:credentials:repair-default --------------------------------------------------------

    /**
     * The owner owns the database and {@code public} again, everything {@code others} own in it
     * becomes the owner's, and the owner may grant each of them (admin option), as Heroku's repair does.
     */
    static void repairDefault(Connection connection, String database, String owner, List<String> others) {
        DSLContext sql = sql(connection);
        sql.execute("alter database {0} owner to {1}", quotedName(database), quotedName(owner));
        if (sql.fetchExists(DSL.selectOne().from("pg_catalog.pg_namespace").where("nspname = 'public'"))) {
            sql.execute("alter schema public owner to {0}", quotedName(owner));
        }
        for (String other : others) {
            sql.execute("reassign owned by {0} to {1}", quotedName(other), quotedName(owner));
            sql.execute("grant {0} to {1} with admin option", quotedName(other), quotedName(owner));
        }
    }

    // ---- pg:stats-reset -----------------------------------------------------------------------

    /** On the database itself: its table, index and function statistics. */
    static void resetDatabaseStatistics(Connection connection) {
        sql(connection).fetch("select pg_catalog.pg_stat_reset()");
    }

    /**
     * From the {@code postgres} database, which only Keel reaches (so its {@code public} holds
     * nothing a tenant made): the statement statistics of {@code database}.
     */
    static void resetStatementStatistics(Connection postgres, String database) {
        DSLContext sql = sql(postgres);
        boolean present = sql.fetchExists(DSL.selectOne().from("pg_catalog.pg_extension").where("extname = 'pg_stat_statements'"));
        if (!present) {
            if (Boolean.TRUE.equals(sql.fetchValue("select pg_catalog.pg_is_in_recovery()"))) {
                return; // a follower has what its leader made, and cannot make more
            }
            sql.execute("create extension if not exists pg_stat_statements with schema public");
        }
        sql.fetch("select public.pg_stat_statements_reset(0, d.oid, 0) from pg_catalog.pg_database d where d.datname = {0}",
                val(database));
    }

    // ---- pg:diagnose: read-only queries; each returns its rows as column to value -----------------

    /** The longest each following statement may run, and may wait for a lock, in milliseconds. */
    static void limitStatements(Connection connection, long statementMillis, long lockMillis) {
        sql(connection).fetch("select pg_catalog.set_config('statement_timeout', {0}, false), pg_catalog.set_config('lock_timeout', {1}, false)",
                val(statementMillis + "ms"), val(lockMillis + "ms"));
    }

    private static List<Map<String, Object>> rows(Connection connection, String query, Object... values) {
        return sql(connection).fetch(query, Arrays.stream(values).map(DSL::val).toArray(QueryPart[]::new)).intoMaps();
    }

    /** Client sessions on the server but this one. */
    static long clientSessions(Connection connection) {
        return ((Number) sql(connection).fetchValue("select pg_catalog.count(*) from pg_catalog.pg_stat_activity a"
                + " where a.backend_type = 'client backend' and a.pid <> pg_catalog.pg_backend_pid()")).longValue();
    }

    /**
     * Client sessions (not Keel's own, {@code keelRole}) whose {@code since} column
     * ({@code query_start}, {@code xact_start} or {@code state_change}) is over {@code seconds}
     * old, in states {@code states}; with {@code seconds_old} for grading.
     */
    static List<Map<String, Object>> sessionsOlderThan(Connection connection, String since, List<String> states, double seconds,
                                                       String keelRole) {
        String column = switch (since) {
            case "query_start", "xact_start", "state_change" -> since;
            default -> throw new IllegalArgumentException(since);
        };
        return rows(connection, "select a.pid, (pg_catalog.now() - a." + column + ")::pg_catalog.text as duration,"
                + " pg_catalog.left(a.query, 1000) as query, pg_catalog.date_part('epoch', pg_catalog.now() - a." + column + ")"
                + " as seconds_old from pg_catalog.pg_stat_activity a where a.backend_type = 'client backend'"
                + " and a.pid <> pg_catalog.pg_backend_pid() and a.usename <> {0} and (a.state = any({1}) or {2})"
                + " and a." + column + " < pg_catalog.now() - pg_catalog.make_interval(secs => {3}) order by a." + column,
                keelRole, states.toArray(String[]::new), states.isEmpty(), seconds);
    }

    /**
     * Indexes over {@code minBytes} on tables over {@code minBytes} that are never used, used
     * seldom for their writes, or seldom for their size ({@code largeBytes}); heroku/pgdiagnose's
     * "Indexes" query, after Josh Berkus' unused-index query.
     */
    static List<Map<String, Object>> unusedIndexes(Connection connection, long minBytes, long largeBytes) {
        return rows(connection, """
                with table_scans as (
                    select t.relid, t.idx_scan + t.seq_scan as all_scans, t.n_tup_ins + t.n_tup_upd + t.n_tup_del as writes,
                           tc.relpages::pg_catalog.int8 * pg_catalog.current_setting('block_size')::pg_catalog.int8 as table_bytes
                    from pg_catalog.pg_stat_user_tables t join pg_catalog.pg_class tc on tc.oid = t.relid),
                indexes as (
                    select i.relid, i.indexrelid, i.schemaname, i.relname, i.indexrelname, i.idx_scan,
                           c.relpages::pg_catalog.int8 * pg_catalog.current_setting('block_size')::pg_catalog.int8 as index_bytes,
                           am.amname = 'btree' as is_btree
                    from pg_catalog.pg_stat_user_indexes i
                    join pg_catalog.pg_index x on x.indexrelid = i.indexrelid
                    join pg_catalog.pg_class c on c.oid = i.indexrelid
                    join pg_catalog.pg_am am on am.oid = c.relam
                    where not x.indisunique),
                ratios as (
                    select pg_catalog.concat(i.schemaname, '.', i.relname, '::', i.indexrelname) as index, i.idx_scan, s.writes,
                           pg_catalog.round(case when s.all_scans = 0 then 0.0 else i.idx_scan::pg_catalog.numeric / s.all_scans * 100 end, 2)
                               as index_scan_pct,
                           pg_catalog.round(case when s.writes = 0 then i.idx_scan::pg_catalog.numeric
                               else i.idx_scan::pg_catalog.numeric / s.writes end, 2) as scans_per_write,
                           pg_catalog.pg_size_pretty(i.index_bytes) as index_size, pg_catalog.pg_size_pretty(s.table_bytes) as table_size,
                           i.is_btree, i.index_bytes
                    from indexes i join table_scans s on s.relid = i.relid
                    where i.index_bytes > {0} and s.table_bytes > {0})
                select reason, index, index_scan_pct, scans_per_write, index_size, table_size from (
                    select 'Never Used Indexes' as reason, r.*, 1 as grp from ratios r where r.idx_scan = 0 and r.is_btree
                    union all
                    select 'Low Scans, High Writes', r.*, 2 from ratios r
                        where r.scans_per_write <= 1 and r.index_scan_pct < 10 and r.idx_scan > 0 and r.writes > 100 and r.is_btree
                    union all
                    select 'Seldom Used Large Indexes', r.*, 3 from ratios r
                        where r.index_scan_pct < 5 and r.scans_per_write > 1 and r.idx_scan > 0 and r.is_btree and r.index_bytes > {1}
                ) grouped order by grp, index_bytes desc""", minBytes, largeBytes);
    }

    /**
     * Tables and indexes whose estimated waste is over {@code minWasteBytes} and over
     * {@code minRatio} times their expected size: heroku/pgdiagnose's "Bloat" estimate (from the
     * statistics, no table is read).
     */
    static List<Map<String, Object>> bloat(Connection connection, long minWasteBytes, double minRatio) {
        return rows(connection, """
                with constants as (select pg_catalog.current_setting('block_size')::pg_catalog.numeric as bs, 23 as hdr, 4 as ma),
                bloat_info as (
                    select ma, bs, schemaname, tablename,
                           (datawidth + (hdr + ma - (case when hdr % ma = 0 then ma else hdr % ma end)))::pg_catalog.numeric as datahdr,
                           (maxfracsum * (nullhdr + ma - (case when nullhdr % ma = 0 then ma else nullhdr % ma end))) as nullhdr2
                    from (select s.schemaname, s.tablename, hdr, ma, bs, pg_catalog.sum((1 - s.null_frac) * s.avg_width) as datawidth,
                                 pg_catalog.max(s.null_frac) as maxfracsum,
                                 hdr + (select 1 + pg_catalog.count(*) / 8 from pg_catalog.pg_stats s2
                                        where s2.null_frac <> 0 and s2.schemaname = s.schemaname and s2.tablename = s.tablename) as nullhdr
                          from pg_catalog.pg_stats s, constants group by 1, 2, 3, 4, 5) as foo),
                table_bloat as (
                    select b.schemaname, b.tablename, cc.relpages, b.bs,
                           pg_catalog.ceil((cc.reltuples * ((b.datahdr + b.ma - (case when b.datahdr % b.ma = 0 then b.ma
                               else b.datahdr % b.ma end)) + b.nullhdr2 + 4)) / (b.bs - 20::pg_catalog.float8)) as otta
                    from bloat_info b join pg_catalog.pg_namespace nn on nn.nspname = b.schemaname
                    join pg_catalog.pg_class cc on cc.relname = b.tablename and cc.relnamespace = nn.oid),
                index_bloat as (
                    select b.schemaname, b.tablename, b.bs, c2.relname as iname, c2.relpages as ipages,
                           coalesce(pg_catalog.ceil((c2.reltuples * (b.datahdr - 12)) / (b.bs - 20::pg_catalog.float8)), 0) as iotta
                    from bloat_info b join pg_catalog.pg_namespace nn on nn.nspname = b.schemaname
                    join pg_catalog.pg_class cc on cc.relname = b.tablename and cc.relnamespace = nn.oid
                    join pg_catalog.pg_index i on i.indrelid = cc.oid join pg_catalog.pg_class c2 on c2.oid = i.indexrelid)
                select type, object, bloat, pg_catalog.pg_size_pretty(raw_waste::pg_catalog.int8) as waste from (
                    select 'table' as type, pg_catalog.concat(schemaname, '.', tablename) as object,
                           pg_catalog.round(case when otta = 0 then 0.0 else relpages / otta::pg_catalog.numeric end, 1) as bloat,
                           case when relpages < otta then 0 else bs * (relpages - otta)::pg_catalog.int8 end as raw_waste
                    from table_bloat
                    union all
                    select 'index', pg_catalog.concat(schemaname, '.', tablename, '::', iname),
                           pg_catalog.round(case when iotta = 0 or ipages = 0 then 0.0 else ipages / iotta::pg_catalog.numeric end, 1),
                           case when ipages < iotta then 0 else bs * (ipages - iotta)::pg_catalog.int8 end
                    from index_bloat) summary
                where raw_waste > {0} and bloat > {1} order by raw_waste desc, bloat desc""", minWasteBytes, minRatio);
    }

    /**
     * The database's index and table cache hit rates, and the share of index scans of each table
     * over {@code minTableBytes}, where below {@code minRatio}: heroku/pgdiagnose's "Hit Rate".
     */
    static List<Map<String, Object>> lowHitRates(Connection connection, double minRatio, long minTableBytes) {
        return rows(connection, """
                select name, pg_catalog.round(ratio::pg_catalog.numeric, 4) as ratio from (
                    select 'overall index hit rate' as name, pg_catalog.sum(i.idx_blks_hit)::pg_catalog.float8
                           / nullif(pg_catalog.sum(i.idx_blks_hit + i.idx_blks_read), 0) as ratio
                    from pg_catalog.pg_statio_user_indexes i
                    union all
                    select 'overall table hit rate', pg_catalog.sum(t.heap_blks_hit)::pg_catalog.float8
                           / nullif(pg_catalog.sum(t.heap_blks_hit) + pg_catalog.sum(t.heap_blks_read), 0)
                    from pg_catalog.pg_statio_user_tables t
                    union all
                    select pg_catalog.concat(s.schemaname, '.', s.relname), s.idx_scan::pg_catalog.float8 / (s.seq_scan + s.idx_scan)
                    from pg_catalog.pg_stat_user_tables s join pg_catalog.pg_class c on c.oid = s.relid
                    where c.relpages::pg_catalog.int8 * pg_catalog.current_setting('block_size')::pg_catalog.int8 > {1}
                        and s.idx_scan > 0) rates
                where ratio < {0}""", minRatio, minTableBytes);
    }

    /** Sessions waiting for a lock another holds, with the holder. */
    static List<Map<String, Object>> blockingQueries(Connection connection) {
        return rows(connection, """
                select blocked.pid as blocked_pid, pg_catalog.left(blocked.query, 1000) as blocked_statement,
                       (pg_catalog.now() - blocked.query_start)::pg_catalog.text as blocked_duration,
                       blocking.pid as blocking_pid, pg_catalog.left(blocking.query, 1000) as blocking_statement,
                       (pg_catalog.now() - blocking.query_start)::pg_catalog.text as blocking_duration
                from pg_catalog.pg_stat_activity blocked
                join pg_catalog.pg_stat_activity blocking on blocking.pid = any(pg_catalog.pg_blocking_pids(blocked.pid))
                where blocked.wait_event_type = 'Lock' order by blocked.pid""");
    }

    /**
     * Sequences that have used over {@code minPct} percent of their range, where the range is
     * also bounded by the integer column that owns the sequence.
     */
    static List<Map<String, Object>> sequencesNearExhaustion(Connection connection, double minPct) {
        return rows(connection, """
                select sequence, last_value, max_value, used_pct from (
                    select pg_catalog.concat(n.nspname, '.', c.relname) as sequence, s.last_value,
                           least(case when seq.seqincrement > 0 then seq.seqmax else -seq.seqmin end,
                               case t.typname when 'int2' then 32767 when 'int4' then 2147483647 else 9223372036854775807 end) as max_value,
                           pg_catalog.round(100.0 * pg_catalog.abs(s.last_value) / least(case when seq.seqincrement > 0
                               then seq.seqmax else -seq.seqmin end, case t.typname when 'int2' then 32767 when 'int4' then 2147483647
                               else 9223372036854775807 end), 2) as used_pct
                    from pg_catalog.pg_sequence seq
                    join pg_catalog.pg_class c on c.oid = seq.seqrelid
                    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                    join pg_catalog.pg_sequences s on s.schemaname = n.nspname and s.sequencename = c.relname
                    left join pg_catalog.pg_depend d on d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.objid = c.oid
                        and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass and d.refobjsubid > 0 and d.deptype in ('a', 'i')
                    left join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                    left join pg_catalog.pg_type t on t.oid = a.atttypid
                    where s.last_value is not null) used
                where used_pct > {0} order by used_pct desc""", minPct);
    }

    static List<Map<String, Object>> unloggedTables(Connection connection) {
        return rows(connection, """
                select pg_catalog.concat(n.nspname, '.', c.relname) as table,
                       pg_catalog.pg_size_pretty(c.relpages::pg_catalog.int8 * pg_catalog.current_setting('block_size')::pg_catalog.int8)
                       as size
                from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where c.relpersistence = 'u' and c.relkind in ('r', 'p') order by 1""");
    }

    /** Tables whose oldest unfrozen transaction ID is over {@code minAge} transactions old. */
    static List<Map<String, Object>> tablesNearWraparound(Connection connection, long minAge) {
        return rows(connection, """
                select pg_catalog.concat(n.nspname, '.', c.relname) as table, pg_catalog.age(c.relfrozenxid) as xid_age
                from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'm', 't') and c.relfrozenxid <> '0'::pg_catalog.xid and pg_catalog.age(c.relfrozenxid) > {0}
                order by 2 desc limit 100""", minAge);
    }

    /** The current database's oldest unfrozen transaction ID age. */
    static long databaseXidAge(Connection connection) {
        return ((Number) sql(connection).fetchValue("select pg_catalog.age(d.datfrozenxid) from pg_catalog.pg_database d"
                + " where d.datname = pg_catalog.current_database()")).longValue();
    }

    /** The tenant's schemas: everything but Postgres' own and temporary ones. */
    static long schemaCount(Connection connection) {
        return tenantSchemas(connection).size();
    }
}
