package dev.keel.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.ServerSession;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.NumberedWriter;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Online major-version upgrades through logical replication, under a writer that keeps inserting
 * numbered rows: every acknowledged row arrives, the write pause is short, credentials and
 * sequences carry over, followers come back on the new major, and a rollback after the upgrade
 * restores on the new timeline. What logical replication cannot carry is refused before anything
 * starts.
 */
@ExtendWith(SharedKeel.class)
class UpgradeTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pg_dump", "psql");
    }

    @Test
    void fourteenToSeventeenUnderAWriterKeepsEveryRowRebuildsTheFollowerAndRollsBackAfter(TestKeel keel) throws Exception {
        Api api = keel.newTeam("upgrade-" + System.nanoTime());
        List<String> made = new ArrayList<>();
        try {
            JsonNode db = provision(api, made, "{\"plan\":\"standard-0\",\"version\":\"14\"}");
            String id = db.get("id").asText();
            String url = db.get("url").asText();
            String ownerRole;
            String pgDatabase;
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                ownerRole = Pg.scalar(owner, "select current_user");
                pgDatabase = Pg.scalar(owner, "select current_database()");
                sql.execute("create table numbered (n bigint primary key, at timestamptz not null default now())");
                sql.execute("create table events (id bigserial primary key, payload text)");
                sql.execute("insert into events (payload) select 'before ' || g from generate_series(1, 1000) g");
                sql.execute("create materialized view event_count as select count(*) as n from events");
                // renamed debug_parallel_query in 16: carried under its new name
                sql.execute("alter database \"" + pgDatabase + "\" set force_parallel_mode = off");
            }
            Api.Response analyst = api.post("/v1/databases/" + id + "/credentials", "{\"name\":\"analyst\"}");
            assertThat(analyst.status()).as(analyst.toString()).isEqualTo(201);
            assertThat(api.post("/v1/apps", "{\"name\":\"reports\"}").status()).isEqualTo(201);
            assertThat(api.post("/v1/apps/reports/attachments", "{\"database\":\"" + id + "\",\"as\":\"ANALYST\",\"credential\":\"analyst\"}")
                    .status()).isEqualTo(201);
            // A setting chosen with pg:settings: the new server runs with it too.
            Api.Response chosen = api.patch("/postgres/v0/databases/" + db.get("name").asText() + "/config", "{\"log_lock_waits\": true}");
            assertThat(chosen.status()).as(chosen.toString()).isEqualTo(200);
            ArchiveWaits.awaitInitialBackup(api, id);
            Api.Response follow = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}");
            made.add(follow.field("id"));
            String followerId = follow.field("id");
            api.awaitAvailable(followerId, Timeouts.UPGRADE); // a restore that waits for the leader's next archived segment
            try (Connection connection = Superuser.connect(keel, primary(keel, id), "postgres")) {
                // what the follower watch asks a leader: on 14 and 15, pg_read_file has no (text, boolean) form
                assertThat(new ServerSession(connection).timelineHistory()).hasValueSatisfying(h -> assertThat(h.current().value()).isEqualTo(1));
            }

            // Postgres 15 would apply the stream as a superuser, running the tenant's triggers and functions so: refused.
            Api.Response toFifteen = api.post("/v1/databases/" + id + "/upgrade", "{\"version\":15}");
            assertThat(toFifteen.status()).as(toFifteen.toString()).isEqualTo(422);
            assertThat(toFifteen.field("detail")).isEqualTo("An upgrade to Postgres 15 would replay " + db.get("name").asText()
                    + "'s rows as a superuser (before 16, Postgres applies logical replication as a superuser), running the database's"
                    + " own triggers and functions with every right; upgrade to 16 or later.");
            assertThat(toFifteen.json().get("valid_values").toString()).doesNotContain("15").contains("16").contains("17");

            // As pg:credentials:repair-default leaves it: the owner holds its credentials with admin option.
            try (Connection superuser = Superuser.connect(keel, primary(keel, id), "postgres"); Statement sql = superuser.createStatement()) {
                sql.execute("grant analyst to \"" + ownerRole + "\" with admin option");
            }
            List<String> memberships = memberships(keel, id);
            assertThat(memberships).as("the owner's admin option on its credentials").anyMatch(m -> m.endsWith(" true"));
            NumberedWriter writer = NumberedWriter.start(keel, () -> api.get("/v1/databases/" + id).field("url"), false);
            writer.awaitMore(200);
            Api.Response started = api.post("/v1/databases/" + id + "/upgrade", "{\"version\":17}");
            assertThat(started.status()).as(started.toString()).isEqualTo(202);
            JsonNode done = awaitOperation(api, started.field("operation_id"));
            writer.awaitMore(200);
            List<Long> acknowledged = writer.stop();
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
            assertThat(done.get("step").asText()).startsWith("upgraded from Postgres 14 to 17; writes paused")
                    .endsWith("1 follower is being rebuilt on the new major where it runs (a rebuild operation of its own)");

            JsonNode upgrade = api.get("/v1/databases/" + id + "/upgrade").json();
            assertThat(upgrade.get("state").asText()).isEqualTo("completed");
            assertThat(upgrade.get("write_pause_ms").asLong()).isBetween(0L, 10_000L);
            JsonNode after = api.get("/v1/databases/" + id).json();
            assertThat(after.get("version").asText()).isEqualTo("17");
            String newUrl = after.get("url").asText();
            assertThat(Pg.port(newUrl)).isNotEqualTo(Pg.port(url));
            try (Connection owner = Pg.connect(newUrl, keel.caFile()); Statement sql = owner.createStatement()) {
                assertThat(Pg.scalar(owner, "select current_setting('server_version_num')::int / 10000")).isEqualTo("17");
                assertThat(Long.parseLong(Pg.scalar(owner, "select count(*) from numbered where n = any(array" + acknowledged + "::bigint[])")))
                        .isEqualTo(acknowledged.size());
                sql.execute("insert into events (payload) values ('after')"); // the sequence carried over: no duplicate key
                assertThat(Pg.scalar(owner, "select n from event_count")).isEqualTo("1000");
            }
            assertThat(memberships(keel, id)).as("memberships, with their admin option").containsExactlyInAnyOrderElementsOf(memberships);
            try (Connection connection = Superuser.connect(keel, primary(keel, id), "postgres")) {
                assertThat(Pg.scalar(connection, "select array_to_string(setconfig, ',') from pg_db_role_setting s join pg_database d"
                        + " on d.oid = s.setdatabase where s.setrole = 0 and d.datname = '" + pgDatabase + "'")).contains("debug_parallel_query=off");
                assertThat(Pg.scalar(connection, "show log_lock_waits")).as("the setting chosen before the upgrade").isEqualTo("on");
            }
            String analystUrl = api.get("/v1/apps/reports/config-vars").json().get("ANALYST_URL").asText();
            assertThat(Pg.port(analystUrl)).isEqualTo(Pg.port(newUrl));
            try (Connection connection = Pg.connect(analystUrl, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select current_user")).isEqualTo("analyst");
            }

            // Rebuilt by an operation of its own, recorded for the node that hosts it (this one), which the upgrade did not wait for.
            List<String> rebuilds = keel.bean(DSLContext.class).select(OPERATIONS.ID, OPERATIONS.NODE).from(OPERATIONS)
                    .where(OPERATIONS.DATABASE_ID.eq(UUID.fromString(followerId))).and(OPERATIONS.KIND.eq("rebuild"))
                    .fetch(r -> r.value1() + " " + r.value2());
            assertThat(rebuilds).hasSize(1);
            assertThat(rebuilds.get(0)).endsWith(" " + keel.bean(ThisNode.class).name());
            JsonNode rebuilt = awaitOperation(api, rebuilds.get(0).split(" ")[0]);
            assertThat(rebuilt.get("state").asText()).as(rebuilt.toString()).isEqualTo("succeeded");
            assertThat(rebuilt.get("step").asText()).contains("was upgraded to Postgres 17");
            JsonNode follower = api.awaitAvailable(followerId);
            assertThat(follower.get("version").asText()).isEqualTo("17");
            long newest = acknowledged.get(acknowledged.size() - 1);
            Wait.until("the follower to stream the rows written after the upgrade", Timeouts.RESTORE, () -> {
                try (Connection connection = Pg.connect(api.get("/v1/databases/" + followerId).field("url"), keel.caFile())) {
                    return Pg.scalar(connection, "select count(*) from numbered where n = " + newest).equals("1")
                            && Pg.scalar(connection, "select current_setting('server_version_num')::int / 10000").equals("17");
                } catch (SQLException e) {
                    return false;
                }
            });
            for (JsonNode backup : api.get("/v1/databases/" + id + "/backups").json()) {
                assertThat(backup.get("timeline").asInt()).as("no base backup of the old major is left").isGreaterThan(1);
            }
            assertOnlyItsOwnTimelinesAreArchived(keel, api, id);

            Instant target = Instant.now();
            try (Connection owner = Pg.connect(newUrl, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("insert into numbered (n) values (-1)"); // after the rollback target: not in the rollback
            }
            Wait.until("the rollback window to reach past the target", Timeouts.RESTORE, () -> {
                JsonNode window = api.get("/v1/databases/" + id + "/archive").json().get("window");
                return window != null && !window.isNull() && Instant.parse(window.get("to").asText()).isAfter(target.plusSeconds(1));
            });
            Api.Response rollback = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + id + "\",\"to\":\""
                    + target + "\"}");
            assertThat(rollback.status()).as(rollback.toString()).isEqualTo(202);
            made.add(rollback.field("id"));
            JsonNode rolledBack = api.awaitAvailable(rollback.field("id"), Timeouts.RESTORE);
            assertThat(rolledBack.get("version").asText()).isEqualTo("17");
            try (Connection owner = Pg.connect(rolledBack.get("url").asText(), keel.caFile())) {
                assertThat(Long.parseLong(Pg.scalar(owner, "select count(*) from numbered where n = any(array" + acknowledged
                        + "::bigint[])"))).isEqualTo(acknowledged.size());
                assertThat(Pg.scalar(owner, "select count(*) from numbered where n = -1")).isEqualTo("0");
            }
        } finally {
            for (int i = made.size() - 1; i >= 0; i--) {
                api.deprovision(made.get(i));
            }
        }
    }

    @Test
    void whatLogicalReplicationCannotCarryIsRefusedBeforeAnythingStarts(TestKeel keel) throws Exception {
        Api api = keel.newTeam("upgrade-refused-" + System.nanoTime());
        List<String> made = new ArrayList<>();
        try {
            JsonNode db = provision(api, made, "{\"plan\":\"standard-0\",\"version\":\"15\"}");
            String id = db.get("id").asText();
            try (Connection owner = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table keyed (id int primary key)");
                sql.execute("create table loose (n int)");
                sql.execute("create unlogged table scratch (id int primary key)");
                sql.execute("select lo_from_bytea(0, 'blob')");
            }
            Api.Response refused = api.post("/v1/databases/" + id + "/upgrade", "{\"version\":17}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(422);
            assertThat(refused.field("type")).isEqualTo("/problems/upgrade-blocked");
            assertThat(refused.json().get("problems")).hasSize(3);
            assertThat(refused.field("detail")).contains("public.loose").contains("1 large objects").contains("public.scratch")
                    .doesNotContain("public.keyed");
            assertThat(api.get("/v1/databases/" + id + "/upgrade").status()).isEqualTo(404);
            assertThat(api.post("/v1/databases/" + id + "/upgrade", "{\"version\":14}").status()).isEqualTo(422);
            assertThat(api.post("/v1/databases/" + id + "/upgrade", "{\"version\":\"x\"}").status()).isEqualTo(422);
            assertThat(api.get("/v1/databases/" + id).field("version")).isEqualTo("15");
        } finally {
            made.forEach(api::deprovision);
        }
    }

    static JsonNode provision(Api api, List<String> made, String body) {
        Api.Response created = api.post("/v1/databases", body);
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        made.add(created.field("id"));
        return api.awaitAvailable(created.field("id"), Timeouts.RESTORE); // a first database of a major unpacks its binaries
    }

    static JsonNode awaitOperation(Api api, String operation) {
        return Wait.until("operation " + operation + " to finish", Timeouts.UPGRADE, () -> {
            JsonNode op = api.get("/v1/operations/" + operation).json();
            return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
        });
    }

    static Duration since(Instant start) {
        return Duration.between(start, Instant.now());
    }

    /**
     * The new server's own first segment (initdb's, on timeline 1, left in pg_wal when it moved
     * to its new timeline) is never handed to the archive, where timeline 1 is the old server's:
     * checkpoints past it and a restart (its shutdown checkpoint) leave nothing in the spool that
     * the archive refuses, and the archive stays ok.
     */
    private static void assertOnlyItsOwnTimelinesAreArchived(TestKeel keel, Api api, String id) throws Exception {
        Instance server = primary(keel, id);
        try (Connection connection = Superuser.connect(keel, server, "postgres"); Statement sql = connection.createStatement()) {
            for (int i = 0; i < 2; i++) {
                sql.execute("select pg_switch_wal()");
                sql.execute("checkpoint");
            }
        }
        InstanceRuntime runtime = keel.bean(InstanceRuntime.class);
        runtime.stop(server);
        runtime.start(server);
        // After the restart, a segment of its own: the archiver hands off oldest first, so anything it had been given to
        // hand off from before (initdb's segment, were it marked) goes before this one. (What the archiver does during a
        // shutdown is not in pg_stat_archiver after it.)
        String last;
        try (Connection connection = Superuser.connect(keel, server, "postgres"); Statement sql = connection.createStatement()) {
            sql.execute("checkpoint");
            last = Pg.scalar(connection, "select pg_walfile_name(pg_current_wal_lsn())");
            sql.execute("select pg_switch_wal()");
        }
        Wait.until("the new server to hand " + last + " to archive_command", Timeouts.PROVISION, () -> {
            try (Connection connection = Superuser.connect(keel, server, "postgres")) {
                String archived = Pg.scalar(connection, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
                return archived.compareTo(last) >= 0;
            } catch (SQLException e) {
                return false;
            }
        });
        Wait.until("the new server's spool to be shipped", Timeouts.PROVISION, () -> runtime.spooledWal(server).isEmpty());
        // A conflict never ends; a restart may leave the status failing for a moment, until the server hands off again.
        String[] archive = new String[1];
        Wait.until("the archive to be ok", Timeouts.PROVISION, () -> {
            Api.Response now = api.get("/v1/databases/" + id + "/archive");
            archive[0] = now.text();
            return "ok".equals(now.field("status")) ? Optional.of(now) : Optional.empty();
        }, () -> "the archive last said " + archive[0]);
    }

    /** The primary's memberships among roles other than Keel's and predefined ones, each as "role member admin_option". */
    private static List<String> memberships(TestKeel keel, String id) throws SQLException {
        Instance primary = primary(keel, id);
        List<String> found = new ArrayList<>();
        try (Connection connection = Superuser.connect(keel, primary, "postgres"); Statement sql = connection.createStatement();
             ResultSet rs = sql.executeQuery("select distinct r.rolname || ' ' || m.rolname || ' ' || a.admin_option"
                     + " from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member"
                     + " where m.rolname !~ '^(pg_|keel$|keel_|follower_|standby_)' and r.rolname !~ '^(keel$|keel_)'")) {
            while (rs.next()) {
                found.add(rs.getString(1));
            }
        }
        return found;
    }

    /** The database's primary as the catalog names it now (it changes at the upgrade's switch). */
    private static Instance primary(TestKeel keel, String id) {
        return keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
    }
}
