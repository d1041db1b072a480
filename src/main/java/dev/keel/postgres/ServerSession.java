package dev.keel.postgres;

import io.micronaut.core.annotation.Nullable;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.conf.RenderQuotedNames;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one owner of the SQL Keel sends to a managed server, as its {@code keel} superuser: every
 * statement Keel runs there is a method of this class. A tenant owns objects in its database and
 * may set its database's and role's {@code search_path}; so the session is opened with
 * {@code search_path=pg_catalog,pg_temp} in its startup packet ({@code instances.InstanceConnections}),
 * which no {@code ALTER DATABASE/ROLE ... SET} overrides, and every function, relation and type
 * below is written with its schema besides. Identifiers are quoted (by jOOQ's renderer) and values
 * are bind parameters; passwords reach the server only as SCRAM verifiers. Every failure is an
 * {@link SQLException}, to be classified by its SQLState.
 *
 * <p>The exception, by size: features with many statements of their own keep them in one SQL
 * class each, under the same rules, and run them on {@link #pinnedConnection()}: maintenance
 * (pg:reset, pg:killall, pg:settings, pg:diagnose: {@code MaintenanceSql}, {@code DiagnoseChecks}),
 * major-version upgrades ({@code UpgradeSql}, {@code UpgradeStreamSql}), pooling
 * ({@code PoolerSql}) and logical backups ({@code DumpSql}).
 */
public final class ServerSession implements AutoCloseable {
    /** Keel's management role on every managed server. */
    public static final String SUPERUSER = "keel";
    /** The group of the replication roles of followers and standbys: pg_hba refuses them anything but replication. */
    public static final String REPLICATION_GROUP = "keel_replication";
    /**
     * The group of a major-version upgrade's stream roles (which log in, stream and read every
     * row): pg_hba admits them to their database from Keel's hosts only.
     */
    public static final String UPGRADE_STREAM_GROUP = "keel_upgrade_stream";
    private static final String SCRAM = "scram-sha-256";
    private static final String ROLE_ATTRIBUTES = "login nosuperuser nocreatedb nocreaterole noreplication nobypassrls";
    /** How long ago, in seconds by this server's clock, a walsender's standby last replied (its stamp is the standby host's clock). */
    private static final String REPLY_AGE = "select pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - reply_time)::pg_catalog.float8";

    private static final DSLContext RENDERER = DSL.using(SQLDialect.POSTGRES,
            new Settings().withRenderQuotedNames(RenderQuotedNames.ALWAYS));

    private final Connection connection;

    /** Wraps a connection opened with the pinned settings; only {@code instances.InstanceConnections} opens them. */
    public ServerSession(Connection connection) {
        this.connection = connection;
    }

    /**
     * The session's connection, search_path pinned, for the maintenance package's SQL classes,
     * which follow this class's rules; closing the session closes it.
     */
    public Connection pinnedConnection() {
        return connection;
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }

    // ---- the server

    /** The running value of a server setting. */
    public String setting(String name) throws SQLException {
        return single("select pg_catalog.current_setting(?)", r -> r.getString(1), name);
    }

    /** Whether the server is a standby (or still recovering). */
    public boolean inRecovery() throws SQLException {
        return single("select pg_catalog.pg_is_in_recovery()", r -> r.getBoolean(1));
    }

    /** Where the primary writes WAL now. */
    public Lsn currentWalLsn() throws SQLException {
        return single("select pg_catalog.pg_current_wal_lsn()::pg_catalog.text", r -> Lsn.parse(r.getString(1)));
    }

    /**
     * Makes a commit wait until the standby that connects as {@code applicationName} has flushed it
     * (or, with null, for no standby), in {@code postgresql.auto.conf}, and reloads. Commits that
     * wait when it is emptied are let go at once. A base backup leaves that file out, so no copy of
     * this server inherits the setting.
     */
    public void synchronousStandby(@Nullable String applicationName) throws SQLException {
        execute(synchronousStandbyStatement(applicationName));
        execute("select pg_catalog.pg_reload_conf()");
    }

    /** The statement {@link #synchronousStandby} runs before it reloads; rendered here so that a process can load what renders it ahead. */
    public static String synchronousStandbyStatement(@Nullable String applicationName) {
        String names = applicationName == null ? "" : "\"" + applicationName.replace("\"", "") + "\"";
        return "alter system set synchronous_standby_names = " + RENDERER.render(DSL.inline(names));
    }

    /** Whether a commit waits for the standby connected as {@code applicationName} alone, as {@link #synchronousStandby} sets it. */
    public boolean waitsFor(String applicationName) throws SQLException {
        return namesAlone(single("select pg_catalog.current_setting('synchronous_standby_names')", r -> r.getString(1)), applicationName);
    }

    /** Whether {@code synchronousStandbyNames} names {@code applicationName} alone, bare or quoted. */
    private static boolean namesAlone(String synchronousStandbyNames, String applicationName) {
        return synchronousStandbyNames.equals(applicationName) || synchronousStandbyNames.equals("\"" + applicationName + "\"");
    }

    /**
     * Asks the server to reread its configuration files (settings that need no restart, pg_hba)
     * and returns the server's clock just before, for {@link #configurationLoadedSince}.
     */
    public OffsetDateTime reloadConfiguration() throws SQLException {
        OffsetDateTime before = single("select pg_catalog.clock_timestamp()", r -> r.getObject(1, OffsetDateTime.class));
        execute("select pg_catalog.pg_reload_conf()");
        return before;
    }

    /**
     * Whether this (new) session's backend runs with configuration loaded at or after
     * {@code time}: the reload is asynchronous, and only then does pg_hba admit what it allows.
     */
    public boolean configurationLoadedSince(OffsetDateTime time) throws SQLException {
        return !single("select pg_catalog.pg_conf_load_time()", r -> r.getObject(1, OffsetDateTime.class)).isBefore(time);
    }

    /**
     * The errors of the server's pg_hba file as it reads it now, one per faulty line: a reload that
     * meets one keeps the rules it had, though its load time moves on.
     */
    public List<String> hbaErrors() throws SQLException {
        return all("select pg_catalog.concat('line ', line_number, ': ', error) from pg_catalog.pg_hba_file_rules where error is not null",
                r -> r.getString(1));
    }

    /**
     * Promotes the server unless it is a primary already, waiting up to {@code waitSeconds} until
     * it takes writes; returns whether it was promoted now, and throws when it did not finish.
     */
    public boolean promote(int waitSeconds, String who) throws SQLException {
        if (!inRecovery()) {
            return false;
        }
        if (!single("select pg_catalog.pg_promote(true, ?)", r -> r.getBoolean(1), waitSeconds)) {
            throw new SQLException(who + " did not finish promoting within " + waitSeconds + " seconds; its log says why.", "57014");
        }
        return true;
    }

    /** Ends every client session but this one; returns how many there were. */
    public int terminateClientSessions() throws SQLException {
        return single("select pg_catalog.count(pg_catalog.pg_terminate_backend(pid))::pg_catalog.int4 from pg_catalog.pg_stat_activity"
                + " where backend_type = 'client backend' and pid <> pg_catalog.pg_backend_pid()", r -> r.getInt(1));
    }

    // ---- databases

    /** On a database nobody else owns yet: pg_stat_statements, for pg:outliers and the like. */
    public void createStatementStatistics() throws SQLException {
        execute("create extension if not exists pg_stat_statements with schema public");
        // Keel owns it, so its owner could not restore its comment from a dump (pg:pull, pg:push): it has none.
        execute("comment on extension pg_stat_statements is null");
    }

    /** What {@code pg:info} shows of the database this session is on. */
    public record DatabaseStats(long bytes, String prettySize, long tables, long connections, int maxConnections) {
    }

    public DatabaseStats databaseStats() throws SQLException {
        return single("select pg_catalog.pg_database_size(pg_catalog.current_database()),"
                + " (select pg_catalog.count(*) from pg_catalog.pg_stat_user_tables),"
                + " (select pg_catalog.count(*) from pg_catalog.pg_stat_activity where datname = pg_catalog.current_database()"
                + "  and pid <> pg_catalog.pg_backend_pid()),"
                + " pg_catalog.current_setting('max_connections')::pg_catalog.int4,"
                + " pg_catalog.pg_size_pretty(pg_catalog.pg_database_size(pg_catalog.current_database()))",
                r -> new DatabaseStats(r.getLong(1), r.getString(5), r.getLong(2), r.getLong(3), r.getInt(4)));
    }

    /** The size of the database this session is on. */
    public long databaseSize() throws SQLException {
        return single("select pg_catalog.pg_database_size(pg_catalog.current_database())", r -> r.getLong(1));
    }

    // ---- roles

    public boolean roleExists(String role) throws SQLException {
        return first("select 1 from pg_catalog.pg_roles where rolname = ?", r -> true, role).isPresent();
    }

    /** On the {@code postgres} database: the owner role, and {@code database} owned by it; nobody else may connect. */
    public void createOwner(String role, String password, String database) throws SQLException {
        execute("create role " + ident(role) + " " + ROLE_ATTRIBUTES);
        setPassword(role, password);
        execute("create database " + ident(database) + " owner " + ident(role));
        execute("revoke all on database " + ident(database) + " from public");
    }

    /** On the new database: the owner also owns {@code public}, where nobody else may create. */
    public void prepareDatabase(String owner) throws SQLException {
        execute("alter schema public owner to " + ident(owner));
        execute("revoke create on schema public from public");
        createStatementStatistics();
    }

    /**
     * On the {@code postgres} database: a login role that may connect to {@code database} and
     * nothing more; the owner grants it what it should read or write.
     */
    public void createMember(String role, String password, String database) throws SQLException {
        execute("create role " + ident(role) + " " + ROLE_ATTRIBUTES);
        setPassword(role, password);
        execute("grant connect on database " + ident(database) + " to " + ident(role));
    }

    /** {@code role}'s new password, sent as a SCRAM verifier. */
    public void setPassword(String role, String password) throws SQLException {
        connection.unwrap(PGConnection.class).alterUserPassword(role, password.toCharArray(), SCRAM);
    }

    /** Ends every session of {@code role}; returns how many there were. */
    public int terminateSessions(String role) throws SQLException {
        return single("select pg_catalog.count(pg_catalog.pg_terminate_backend(pid))::pg_catalog.int4 from pg_catalog.pg_stat_activity"
                + " where usename = ?", r -> r.getInt(1), role);
    }

    /**
     * On the database: what {@code role} owns goes to {@code owner}, its grants go, then the role
     * itself (which must have no sessions left).
     */
    public void dropMember(String role, String owner) throws SQLException {
        execute("reassign owned by " + ident(role) + " to " + ident(owner));
        execute("drop owned by " + ident(role));
        execute("drop role " + ident(role));
    }

    /** The roles that may log in, but not {@link #SUPERUSER} (the server's own), for copies to account for. */
    public List<String> loginRoles() throws SQLException {
        return all("select rolname from pg_catalog.pg_roles where rolcanlogin and rolname <> ? order by rolname", r -> r.getString(1),
                SUPERUSER);
    }

    // ---- replication

    /**
     * A login role with the replication attribute and nothing else (kept if it exists), a member
     * of {@link #REPLICATION_GROUP}, which pg_hba lets log in to nothing but replication, and that
     * only from Keel's hosts.
     */
    public void ensureReplicationRole(String role, String password) throws SQLException {
        createRoleUnlessExists(REPLICATION_GROUP, "nologin");
        createRoleUnlessExists(role, "with login replication");
        execute("grant " + ident(REPLICATION_GROUP) + " to " + ident(role));
        setPassword(role, password);
    }

    /**
     * Creates {@code role} unless it exists, also when another session creates it at the same
     * moment (two followers of one leader start together: both find the group missing).
     */
    private void createRoleUnlessExists(String role, String options) throws SQLException {
        if (roleExists(role)) {
            return;
        }
        try {
            execute("create role " + ident(role) + " " + options);
        } catch (SQLException e) {
            boolean raced = "42710".equals(e.getSQLState()) || "23505".equals(e.getSQLState());
            if (!raced || !roleExists(role)) {
                throw e;
            }
        }
    }

    /**
     * Drops {@code slot} if the server invalidated it (a lost slot keeps nothing and can never be
     * streamed from), so that {@link #ensurePhysicalSlot} makes it anew: only for a server that is
     * about to be made from a backup and the archive, never for one that streams on (it would
     * then miss what the lost slot no longer kept, and nothing would say so).
     */
    public void dropLostSlot(String slot) throws SQLException {
        execute("select pg_catalog.pg_drop_replication_slot(slot_name) from pg_catalog.pg_replication_slots"
                + " where slot_name = ? and wal_status = 'lost' and not active", slot);
    }

    /** A physical slot that keeps WAL from now on (kept if it exists); the first segment it keeps. */
    public WalSegmentName ensurePhysicalSlot(String slot) throws SQLException {
        execute("select pg_catalog.pg_create_physical_replication_slot(?, true) where not exists"
                + " (select from pg_catalog.pg_replication_slots where slot_name = ?)", slot, slot);
        return single("select pg_catalog.pg_walfile_name(restart_lsn) from pg_catalog.pg_replication_slots where slot_name = ?",
                r -> WalSegmentName.parse(r.getString(1)), slot);
    }

    /**
     * A slot as the server keeps it: where its WAL starts, {@code wal_status} (reserved, extended,
     * unreserved, lost) and how many bytes may still be written before it is lost (null: no limit).
     */
    public record Slot(@Nullable Lsn restart, String walStatus, @Nullable Long safeWalSize, boolean active) {
    }

    public Optional<Slot> slot(String slot) throws SQLException {
        return first("select restart_lsn::pg_catalog.text, wal_status, safe_wal_size, active from pg_catalog.pg_replication_slots"
                + " where slot_name = ?", r -> new Slot(r.getString(1) == null ? null : Lsn.parse(r.getString(1)),
                String.valueOf(r.getString(2)), r.getObject(3, Long.class), r.getBoolean(4)), slot);
    }

    /** Where the server has flushed WAL to. */
    public Lsn flushedWalLsn() throws SQLException {
        return single("select pg_catalog.pg_current_wal_flush_lsn()::pg_catalog.text", r -> Lsn.parse(r.getString(1)));
    }

    /** The walsender holding a slot, and how many seconds ago its client last replied (by this server's clock; null: never). */
    public record SlotHolder(int pid, @Nullable Double repliedSecondsAgo) {
    }

    /** The walsender holding {@code slot}, if one does. */
    public Optional<SlotHolder> slotHolder(String slot) throws SQLException {
        return first("select s.active_pid, pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - r.reply_time)::pg_catalog.float8"
                + " from pg_catalog.pg_replication_slots s left join pg_catalog.pg_stat_replication r on r.pid = s.active_pid"
                + " where s.slot_name = ? and s.active_pid is not null",
                r -> new SlotHolder(r.getInt(1), r.getObject(2, Double.class)), slot);
    }

    /** Ends walsender {@code pid} if it still holds {@code slot}. */
    public void endSlotHolder(String slot, int pid) throws SQLException {
        execute("select pg_catalog.pg_terminate_backend(active_pid) from pg_catalog.pg_replication_slots"
                + " where slot_name = ? and active_pid = ?", slot, pid);
    }

    /** Ends the walsender still using {@code slot}, and drops the slot; nothing if there is none. */
    public void dropSlot(String slot) throws SQLException {
        execute("select pg_catalog.pg_terminate_backend(active_pid) from pg_catalog.pg_replication_slots"
                + " where slot_name = ? and active_pid is not null", slot);
        execute("select pg_catalog.pg_drop_replication_slot(slot_name) from pg_catalog.pg_replication_slots where slot_name = ?", slot);
    }

    public void dropRoleIfExists(String role) throws SQLException {
        execute("drop role if exists " + ident(role));
    }

    /** How a standby that connects as {@code applicationName} streams from this primary, if it does. */
    public record Replica(@Nullable Long lagBytes, @Nullable Double replayLagSeconds, String state) {
    }

    public Optional<Replica> replica(String applicationName) throws SQLException {
        return first("select pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)::pg_catalog.int8,"
                + " pg_catalog.date_part('epoch', replay_lag)::pg_catalog.float8, state from pg_catalog.pg_stat_replication"
                + " where application_name = ?" + OLDEST, r -> new Replica(r.getObject(1, Long.class), r.getObject(2, Double.class),
                r.getString(3)), applicationName);
    }

    /**
     * What the HA monitor reads of a primary: {@code timeline} is the one it writes WAL on (null in
     * recovery); {@code synchronousStandby} whether a commit waits for a standby
     * ({@code synchronous_standby_names} set), and {@code syncWaiters} the statements waiting for it
     * now, each as "pid:start" (its backend and when the statement began), so that a wait is timed
     * from when it was first seen, not from the statement's start. {@code standbyState} is the
     * walsender's state, or {@code silent} when it streams but the standby has not replied for 15 s
     * (a hung standby; Keel's standbys reply every second, older ones every 10 s).
     * {@code standbySlotStatus} is the {@code wal_status} of the standby's slot (null when there is
     * no such slot): {@code lost} once the primary removed WAL the standby had not received.
     */
    public record PrimaryCheck(boolean inRecovery, @Nullable Lsn current, @Nullable Long standbyLagBytes, @Nullable String standbyState,
                               @Nullable TimelineId timeline, boolean synchronousStandby, List<String> syncWaiters,
                               @Nullable String standbySlotStatus, @Nullable Double standbyReplyAgeSeconds) {
    }

    /**
     * Of several walsenders of one name, the one that came first: while a receiver moves, the new one
     * connects (and fails to take the slot) beside the one that holds it.
     */
    private static final String OLDEST = " order by backend_start limit 1";

    /** The primary's side of {@code standby}: its walsender's application name, which is also its slot's name. */
    public PrimaryCheck primaryCheck(String standby) throws SQLException {
        return single("select pg_catalog.pg_is_in_recovery(),"
                + " case when pg_catalog.pg_is_in_recovery() then null else pg_catalog.pg_current_wal_lsn()::pg_catalog.text end,"
                + " (select pg_catalog.pg_wal_lsn_diff(case when pg_catalog.pg_is_in_recovery() then null"
                + "   else pg_catalog.pg_current_wal_lsn() end, flush_lsn)::pg_catalog.int8"
                + "  from pg_catalog.pg_stat_replication where application_name = ?" + OLDEST + "),"
                + " (select case when state = 'streaming' and reply_time < pg_catalog.clock_timestamp() - interval '15 seconds'"
                + "   then 'silent' else state end from pg_catalog.pg_stat_replication where application_name = ?" + OLDEST + "),"
                + " case when pg_catalog.pg_is_in_recovery() then null"
                + "   else pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) end,"
                + " pg_catalog.current_setting('synchronous_standby_names') <> '',"
                + " (select pg_catalog.array_agg(pid::pg_catalog.text || ':' || extract(epoch from state_change)::pg_catalog.text)"
                + "  from pg_catalog.pg_stat_activity where wait_event = 'SyncRep'),"
                + " (select wal_status from pg_catalog.pg_replication_slots where slot_name = ?),"
                + " (" + REPLY_AGE + " from pg_catalog.pg_stat_replication where application_name = ?" + OLDEST + ")",
                r -> new PrimaryCheck(r.getBoolean(1), r.getString(2) == null ? null : Lsn.parse(r.getString(2)),
                        r.getObject(3, Long.class), r.getString(4),
                        r.getString(5) == null ? null : TimelineId.parseHex(r.getString(5).substring(0, 8)), r.getBoolean(6),
                        r.getArray(7) == null ? List.of() : List.of((String[]) r.getArray(7).getArray()), r.getString(8), r.getObject(9, Double.class)),
                standby, standby, standby, standby);
    }

    /**
     * How many seconds ago, by this primary's clock, the standby connected as {@code standby} last
     * replied (Keel's standbys reply every second, streaming or catching up): this host's clock less
     * the stamp the standby's host put on the reply, so a standby's clock ahead makes it smaller,
     * below 0 when far enough. Empty when it is not connected.
     */
    public Optional<Double> standbyRepliedSecondsAgo(String standby) throws SQLException {
        return first(REPLY_AGE + " from pg_catalog.pg_stat_replication where application_name = ? and reply_time is not null" + OLDEST,
                r -> r.getDouble(1), standby);
    }

    /** On a standby: the newest WAL position it has received (or replayed, when it never streamed). */
    public Optional<Lsn> received() throws SQLException {
        String text = single("select coalesce(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::pg_catalog.text",
                r -> r.getString(1));
        return Optional.ofNullable(text).map(Lsn::parse);
    }

    /** On a server in recovery: the end of the last WAL record it replayed (empty if it replayed none). */
    public Optional<Lsn> lastReplayed() throws SQLException {
        String text = single("select pg_catalog.pg_last_wal_replay_lsn()::pg_catalog.text", r -> r.getString(1));
        return Optional.ofNullable(text).map(Lsn::parse);
    }

    /**
     * On a primary: its timeline and where that timeline came from, read from
     * {@code pg_wal/<timeline>.history} (a promotion writes it, a recovery restores it); empty when
     * that file is missing on a timeline above 1.
     */
    public Optional<TimelineHistory> timelineHistory() throws SQLException {
        // offset and length too: Postgres 14 and 15 have no pg_read_file(text, boolean); a history file is a line per switch
        return first("select hex, pg_catalog.pg_read_file('pg_wal/' || hex || '.history', 0, 16777216, true) from"
                + " (select pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) as hex) current", r -> {
                    TimelineId timeline = TimelineId.parseHex(r.getString(1));
                    String file = r.getString(2);
                    return timeline.value() == 1 ? new TimelineHistory(timeline, List.of())
                            : file == null ? null : TimelineHistory.parse(timeline, file);
                });
    }

    /** Where a recovering server's replay is, and whether it streams from an upstream. */
    public record Replay(boolean inRecovery, @Nullable Instant lastReplayedAt, boolean streaming) {
    }

    public Replay replay() throws SQLException {
        return single("select pg_catalog.pg_is_in_recovery(), pg_catalog.pg_last_xact_replay_timestamp(),"
                + " exists (select from pg_catalog.pg_stat_wal_receiver where status = 'streaming')",
                r -> new Replay(r.getBoolean(1), instant(r.getObject(2, OffsetDateTime.class)), r.getBoolean(3)));
    }

    // ---- archive and backups

    /**
     * The server's WAL position (written and flushed), its archiver's last success and failure,
     * and the state of the WAL receiver's slot {@code slot} (null when there is none);
     * {@code slotWaitedFor}: commits wait for the standby connected as the slot's name, alone ({@link #waitsFor}).
     */
    public record ServerWal(Lsn current, Lsn flushed, @Nullable Instant lastArchivedAt, @Nullable Instant lastFailedAt,
                            @Nullable String lastFailedWal, @Nullable String slotWalStatus, @Nullable Long slotSafeWalSize,
                            boolean slotWaitedFor) {
    }

    public ServerWal serverWal(String slot) throws SQLException {
        return single("select pg_catalog.pg_current_wal_lsn()::pg_catalog.text, pg_catalog.pg_current_wal_flush_lsn()::pg_catalog.text,"
                + " last_archived_time, last_failed_time, last_failed_wal,"
                + " (select wal_status from pg_catalog.pg_replication_slots where slot_name = ?),"
                + " (select safe_wal_size from pg_catalog.pg_replication_slots where slot_name = ?),"
                + " pg_catalog.current_setting('synchronous_standby_names')"
                + " from pg_catalog.pg_stat_archiver", r -> new ServerWal(Lsn.parse(r.getString(1)), Lsn.parse(r.getString(2)),
                instant(r.getObject(3, OffsetDateTime.class)), instant(r.getObject(4, OffsetDateTime.class)), r.getString(5),
                r.getString(6), r.getObject(7, Long.class), namesAlone(r.getString(8), slot)), slot, slot);
    }

    /**
     * Completes the current segment early, so that it is archived without waiting for
     * {@code archive_timeout}; returns where WAL is now.
     */
    public Lsn switchWal() throws SQLException {
        return single("select pg_catalog.pg_switch_wal()::pg_catalog.text", r -> Lsn.parse(r.getString(1)));
    }

    /**
     * Completes the current segment and returns the name of the segment that holds the last write
     * so far. pg_switch_wal() answers the end of the segment it finished, plus one; when nothing was
     * written since the last switch, the start of the current (empty) segment. Either way, one
     * byte before it lies in the last written segment.
     */
    public WalSegmentName switchWalLastWritten() throws SQLException {
        return single("select pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal() - 1)", r -> WalSegmentName.parse(r.getString(1)));
    }

    /** A non-exclusive base backup's start: where it starts and on which timeline. */
    public record BackupStart(Lsn lsn, TimelineId timeline) {
    }

    /** Its end, with the label (and tablespace map) that go into the backup, never into the data directory. */
    public record BackupStop(Lsn lsn, String backupLabel, @Nullable String tablespaceMap) {
    }

    /**
     * Starts a non-exclusive base backup with an immediate checkpoint; this session must stay open
     * until {@link #stopBackup} (closing it aborts the backup). Postgres 15 renamed the functions;
     * 14 takes an {@code exclusive} argument that must be false.
     */
    public BackupStart startBackup(int major, String label) throws SQLException {
        String function = major >= 15 ? "pg_catalog.pg_backup_start(?, true)" : "pg_catalog.pg_start_backup(?, true, false)";
        Lsn lsn = single("select " + function + "::pg_catalog.text", r -> Lsn.parse(r.getString(1)), label);
        int timeline = single("select timeline_id from pg_catalog.pg_control_checkpoint()", r -> r.getInt(1));
        return new BackupStart(lsn, new TimelineId(timeline));
    }

    /** Ends the backup without waiting for WAL archiving (Keel waits itself, with a switch first). */
    public BackupStop stopBackup(int major) throws SQLException {
        String from = major >= 15 ? "pg_catalog.pg_backup_stop(false)" : "pg_catalog.pg_stop_backup(false, false)";
        return single("select lsn::pg_catalog.text, labelfile, spcmapfile from " + from,
                r -> new BackupStop(Lsn.parse(r.getString(1)), r.getString(2), r.getString(3)));
    }

    // ---- dataclips

    /**
     * The shape Keel gives a database's dataclip role: a login role that is a member of no role at
     * all (not pg_read_all_data, which reads the system catalogs too: pg_authid's password
     * verifiers, pg_user_mapping's options, pg_subscription's conninfo), with SELECT on every
     * table, view and sequence of the database's schemas and USAGE on those schemas, and the
     * database owner's default privileges giving it the same on what the owner makes later.
     * Read-only transactions by default, its statements cut off after the longest clip time limit,
     * temp files and work_mem bounded, a few connections at most.
     */
    public record DataclipShape(int timeoutSeconds, int connections, String tempFileLimit, String workMem) {
        /** Bump when the SQL of {@link #reshapeDataclipRole} changes what a role holds. */
        private static final int VERSION = 3;

        /** Kept in the catalog beside the role; a role whose fingerprint differs is reshaped. */
        public String fingerprint() {
            return "v" + VERSION + " timeout=" + timeoutSeconds + "s connections=" + connections + " temp_file_limit=" + tempFileLimit
                    + " work_mem=" + workMem;
        }
    }

    /** A new dataclip role of {@code shape} on {@code database}, all of it in one transaction. */
    public void createDataclipRole(String role, String password, String database, DataclipShape shape) throws SQLException {
        inTransaction(() -> {
            execute("create role " + ident(role) + " login noinherit");
            setPassword(role, password);
            shapeDataclipRole(role, database, shape);
        });
    }

    /**
     * Gives an existing dataclip role {@code shape}, taking away whatever it held beyond it (a role
     * made before this shape was a member of pg_read_all_data), in one transaction: a failed
     * reshape is tried again at the next run.
     */
    public void reshapeDataclipRole(String role, String database, DataclipShape shape) throws SQLException {
        inTransaction(() -> shapeDataclipRole(role, database, shape));
    }

    private void shapeDataclipRole(String role, String database, DataclipShape shape) throws SQLException {
        String r = ident(role);
        execute("alter role " + r + " " + ROLE_ATTRIBUTES + " noinherit connection limit " + shape.connections());
        // Each grant by its own grantor: from 16 on, a plain REVOKE removes only the grants Keel made, and one the owner
        // made (it may grant its credentials, with admin option since repair-default) would stay with a mere warning.
        // Before 16 a grantor may have been dropped since (then the plain REVOKE removes its grant).
        for (String[] grant : all("select g.rolname, gr.rolname from pg_catalog.pg_auth_members m"
                + " join pg_catalog.pg_roles g on g.oid operator(pg_catalog.=) m.roleid"
                + " join pg_catalog.pg_roles r on r.oid operator(pg_catalog.=) m.member"
                + " left join pg_catalog.pg_roles gr on gr.oid operator(pg_catalog.=) m.grantor where r.rolname operator(pg_catalog.=) ?",
                row -> new String[] {row.getString(1), row.getString(2)}, role)) {
            execute("revoke " + ident(grant[0]) + " from " + r + (grant[1] == null ? "" : " granted by " + ident(grant[1])));
        }
        execute("grant connect on database " + ident(database) + " to " + r);
        for (String[] setting : new String[][] {{"default_transaction_read_only", "on"}, {"statement_timeout", shape.timeoutSeconds() + "s"},
                {"idle_in_transaction_session_timeout", "60s"}, {"temp_file_limit", shape.tempFileLimit()}, {"work_mem", shape.workMem()}}) {
            execute("alter role " + r + " set " + ident(setting[0]) + " = " + literal(setting[1]));
        }
        for (String schema : all("select n.nspname from pg_catalog.pg_namespace n where n.nspname operator(pg_catalog.!~~) 'pg\\_%'"
                + " and n.nspname operator(pg_catalog.<>) 'information_schema'", row -> row.getString(1))) {
            String n = ident(schema);
            execute("grant usage on schema " + n + " to " + r);
            execute("grant select on all tables in schema " + n + " to " + r);
            execute("grant select on all sequences in schema " + n + " to " + r);
        }
        String owner = ident(single("select pg_catalog.pg_get_userbyid(d.datdba) from pg_catalog.pg_database d"
                + " where d.datname operator(pg_catalog.=) ?", row -> row.getString(1), database));
        execute("alter default privileges for role " + owner + " grant usage on schemas to " + r);
        execute("alter default privileges for role " + owner + " grant select on tables to " + r);
        execute("alter default privileges for role " + owner + " grant select on sequences to " + r);
    }

    // ---- monitoring

    /** One replica streaming from the server: its slot (which names it), and how far behind it replays. */
    public record StreamingReplica(@Nullable String slot, @Nullable Long lagBytes, @Nullable Double lagSeconds) {
    }

    /** What the metrics collector reads of a server and one of its databases. */
    public record ServerStats(Map<String, Long> connectionsByState, long sizeBytes, long xidAge, @Nullable Instant lastArchivedAt,
                              @Nullable Instant lastFailedAt, List<StreamingReplica> replicas) {
    }

    /** The statistics of {@code pgDatabase} and of the server; its replicas only when it is a {@code primary}. */
    public ServerStats serverStats(String pgDatabase, boolean primary) throws SQLException {
        Map<String, Long> byState = new LinkedHashMap<>();
        for (Object[] row : all("select coalesce(s.state, 'unknown'), pg_catalog.count(*) from pg_catalog.pg_stat_activity s"
                + " where s.datname OPERATOR(pg_catalog.=) ? and s.backend_type OPERATOR(pg_catalog.=) 'client backend' group by 1",
                r -> new Object[]{r.getString(1), r.getLong(2)}, pgDatabase)) {
            byState.put((String) row[0], (Long) row[1]);
        }
        long[] size = first("select pg_catalog.pg_database_size(d.oid), pg_catalog.age(d.datfrozenxid) from pg_catalog.pg_database d"
                + " where d.datname OPERATOR(pg_catalog.=) ?", r -> new long[]{r.getLong(1), r.getLong(2)}, pgDatabase)
                .orElseThrow(() -> new SQLException("database " + pgDatabase + " is not on its server", "3D000"));
        Instant[] archiver = single("select a.last_archived_time, a.last_failed_time from pg_catalog.pg_stat_archiver a",
                r -> new Instant[]{instant(r.getObject(1, OffsetDateTime.class)), instant(r.getObject(2, OffsetDateTime.class))});
        List<StreamingReplica> replicas = !primary ? List.of() : all("select sl.slot_name,"
                + " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::pg_catalog.int8,"
                + " pg_catalog.date_part('epoch', r.replay_lag) from pg_catalog.pg_stat_replication r"
                + " left join pg_catalog.pg_replication_slots sl on sl.active_pid OPERATOR(pg_catalog.=) r.pid",
                // No replay_lag means nothing was replayed lately: an idle primary's replica has caught up.
                r -> new StreamingReplica(r.getString(1), r.getObject(2, Long.class),
                        r.getObject(3) == null ? Double.valueOf(0) : Double.valueOf(r.getDouble(3))));
        return new ServerStats(byState, size[0], size[1], archiver[0], archiver[1], replicas);
    }

    // ---- plumbing: bind parameters, quoted identifiers, SQLExceptions

    @FunctionalInterface
    private interface Row<T> {
        T map(ResultSet row) throws SQLException;
    }

    @FunctionalInterface
    private interface Work {
        void run() throws SQLException;
    }

    /** Runs {@code work} in one transaction: all of it, or nothing. */
    private void inTransaction(Work work) throws SQLException {
        connection.setAutoCommit(false);
        try {
            work.run();
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /** {@code value} as a string literal, for the statements that take no bind parameters (ALTER ROLE ... SET). */
    private static String literal(String value) {
        return RENDERER.render(DSL.inline(value));
    }

    /** {@code name} as a quoted identifier. */
    private static String ident(String name) {
        return RENDERER.render(DSL.quotedName(name));
    }

    private void execute(String statement, Object... binds) throws SQLException {
        try (PreparedStatement prepared = prepare(statement, binds)) {
            prepared.execute();
        }
    }

    private <T> List<T> all(String query, Row<T> row, Object... binds) throws SQLException {
        try (PreparedStatement prepared = prepare(query, binds); ResultSet rows = prepared.executeQuery()) {
            List<T> values = new ArrayList<>();
            while (rows.next()) {
                values.add(row.map(rows));
            }
            return values;
        }
    }

    private <T> Optional<T> first(String query, Row<T> row, Object... binds) throws SQLException {
        try (PreparedStatement prepared = prepare(query, binds); ResultSet rows = prepared.executeQuery()) {
            return rows.next() ? Optional.ofNullable(row.map(rows)) : Optional.empty();
        }
    }

    private <T> T single(String query, Row<T> row, Object... binds) throws SQLException {
        try (PreparedStatement prepared = prepare(query, binds); ResultSet rows = prepared.executeQuery()) {
            if (!rows.next()) {
                throw new SQLException("no row from: " + query, "02000");
            }
            return row.map(rows);
        }
    }

    private PreparedStatement prepare(String statement, Object... binds) throws SQLException {
        PreparedStatement prepared = connection.prepareStatement(statement);
        try {
            for (int i = 0; i < binds.length; i++) {
                prepared.setObject(i + 1, binds[i]);
            }
            return prepared;
        } catch (SQLException e) {
            prepared.close();
            throw e;
        }
    }

    private static Instant instant(@Nullable OffsetDateTime time) {
        return time == null ? null : time.toInstant();
    }
}
