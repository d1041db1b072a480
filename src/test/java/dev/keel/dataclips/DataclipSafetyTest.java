package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each way a clip might write, escape its role or hold on to the server, run end to end against
 * one database: it fails cleanly (a problem, or a failed result with Postgres' message) and the
 * database is the same afterwards: its canary rows, sequence, large objects, relations, roles and
 * memberships, and no advisory lock left behind; the owner's session survives.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipSafetyTest {
    private static final String PWNED = "/tmp/keel-dataclip-" + UUID.randomUUID();

    private TestKeel keel;
    private Api api;
    private String database;
    private String databaseId;
    private Connection owner;
    private int ownerPid;

    @BeforeAll
    void provision(TestKeel keel) throws Exception {
        this.keel = keel;
        this.api = keel.newTeam("safety-" + UUID.randomUUID().toString().substring(0, 8));
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        database = db.get("name").asText();
        databaseId = db.get("id").asText();
        owner = Pg.connect(db.get("url").asText(), keel.caFile());
        try (Statement sql = owner.createStatement()) {
            sql.execute("create table canary (id int primary key, body text)");
            sql.execute("insert into canary select g, md5(g::text) from generate_series(1, 1000) g");
            sql.execute("create sequence canary_seq");
        }
        ownerPid = Integer.parseInt(Pg.scalar(owner, "select pg_backend_pid()"));
        // The first clip makes the dataclip role; the fingerprints are taken after that.
        assertThat(run("select count(*) from canary", 5).get("state").asText()).isEqualTo("succeeded");
    }

    @AfterAll
    void close() throws Exception {
        owner.close();
    }

    /** What a clip must not change: canary rows, sequence, large objects, relations, roles, memberships, advisory locks. */
    private List<String> fingerprint() throws Exception {
        List<String> prints = new ArrayList<>();
        try (Statement sql = owner.createStatement(); ResultSet rs = sql.executeQuery(
                "select md5(string_agg(c::text, ',' order by id)) from canary c"
                        + " union all select last_value::text || '/' || is_called from canary_seq"
                        + " union all select count(*)::text from pg_largeobject_metadata"
                        + " union all select md5(string_agg(format('%s|%s|%s|%s', oid, relname, relkind, relnamespace), ',' order by oid))"
                        + "   from pg_class"
                        + " union all select md5(string_agg(format('%s|%s|%s|%s|%s|%s', rolname, rolsuper, rolcanlogin, rolconfig,"
                        + "   rolconnlimit, rolbypassrls), ',' order by rolname)) from pg_roles"
                        + " union all select md5(string_agg(format('%s|%s', roleid, member), ',' order by roleid, member))"
                        + "   from pg_auth_members"
                        + " union all select count(*)::text from pg_locks where locktype = 'advisory'")) {
            while (rs.next()) {
                prints.add(rs.getString(1));
            }
        }
        return prints;
    }

    private JsonNode run(String sql, int timeoutSeconds) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"attack\",\"database\":\"" + database + "\",\"sql\":"
                + Json.quote(sql) + ",\"timeout_seconds\":" + timeoutSeconds + "}");
        if (created.status() != 201) {
            return created.json();
        }
        return created.json().get("result");
    }

    Stream<Arguments> refusedBeforeRunning() {
        return Stream.of(
                Arguments.of("insert into canary values (0, 'x')", "not INSERT."),
                Arguments.of("update canary set body = 'x'", "not UPDATE."),
                Arguments.of("delete from canary", "not DELETE."),
                Arguments.of("drop table canary", "not DROP."),
                Arguments.of("create table stolen as select * from canary", "not CREATE."),
                Arguments.of("truncate canary", "not TRUNCATE."),
                Arguments.of("copy canary to program 'touch " + PWNED + "'", "not COPY."),
                Arguments.of("set role keel", "not SET."),
                Arguments.of("set transaction read write", "not SET."),
                Arguments.of("commit; delete from canary", "remove what follows the ';' at position 7."),
                Arguments.of("select 1; delete from canary", "remove what follows the ';' at position 9."),
                Arguments.of("select 1; select 2", "remove what follows the ';' at position 9."),
                Arguments.of("do $$ begin delete from canary; end $$", "not DO."),
                Arguments.of("create extension dblink", "not CREATE."),
                Arguments.of("call pg_terminate_backend(1)", "not CALL."));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedBeforeRunning")
    void statementsThatAreNotOneQueryAreRefusedWithAProblem(String sql, String detailEnd) throws Exception {
        List<String> before = fingerprint();
        JsonNode problem = run(sql, 5);
        assertThat(problem.get("status").asInt()).as(problem.toString()).isEqualTo(422);
        assertThat(problem.get("type").asText()).isEqualTo("/problems/invalid-sql");
        assertThat(problem.get("detail").asText()).endsWith(detailEnd);
        assertThat(fingerprint()).isEqualTo(before);
        assertThat(Path.of(PWNED)).doesNotExist();
    }

    Stream<Arguments> failingQueries() {
        return Stream.of(
                // Refused by the server before it plans anything: the clip is always a subquery of Keel's projection.
                Arguments.of("with gone as (delete from canary returning *) select * from gone", "0A000",
                        "WITH clause containing a data-modifying statement must be at the top level"),
                Arguments.of("select * from canary for update", "25006", "cannot execute SELECT FOR UPDATE in a read-only transaction"),
                Arguments.of("select nextval('canary_seq')", "42501", "permission denied for sequence canary_seq"),
                Arguments.of("select lo_create(0)", "25006", "cannot execute lo_create() in a read-only transaction"),
                Arguments.of("select pg_read_file('/etc/passwd')", "42501", "permission denied for function pg_read_file"),
                Arguments.of("select pg_ls_dir('.')", "42501", "permission denied for function pg_ls_dir"),
                Arguments.of("select lo_export(0, '" + PWNED + "')", "42501", "permission denied for function lo_export"),
                Arguments.of("select pg_stat_file('postgresql.conf')", "42501", "permission denied for function pg_stat_file"),
                Arguments.of("select set_config('role', 'keel', false)", "42501", "permission denied to set role \"keel\""),
                Arguments.of("select set_config('transaction_read_only', 'off', false)", "25001",
                        "transaction read-write mode must be set before any query"),
                Arguments.of("select pg_reload_conf()", "42501", "permission denied for function pg_reload_conf"),
                Arguments.of("select * from dblink('dbname=postgres', 'delete from canary') as t(x int)", "42883",
                        "function dblink(unknown, unknown) does not exist"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("failingQueries")
    void queriesThatWouldWriteOrEscapeFailWithPostgresMessage(String sql, String sqlstate, String message) throws Exception {
        List<String> before = fingerprint();
        JsonNode result = run(sql, 5);
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("failed");
        assertThat(result.get("error").get("sqlstate").asText()).isEqualTo(sqlstate);
        assertThat(result.get("error").get("message").asText()).startsWith(message);
        assertThat(fingerprint()).isEqualTo(before);
        assertThat(Path.of(PWNED)).doesNotExist();
    }

    @Test
    void terminatingAnotherSessionIsRefusedAndTheSessionLives() throws Exception {
        List<String> before = fingerprint();
        JsonNode result = run("select pg_terminate_backend(" + ownerPid + ")", 5);
        assertThat(result.get("state").asText()).isEqualTo("failed");
        assertThat(result.get("error").get("sqlstate").asText()).isEqualTo("42501");
        assertThat(result.get("error").get("message").asText()).startsWith("permission denied to terminate process");
        assertThat(Pg.scalar(owner, "select pg_backend_pid()")).isEqualTo(Integer.toString(ownerPid));
        assertThat(fingerprint()).isEqualTo(before);
    }

    @Test
    void advisoryLocksFailTheRunAndAreReleased() throws Exception {
        List<String> before = fingerprint();
        for (String sql : new String[] {"select pg_advisory_lock(42)", "select pg_advisory_xact_lock(43)", "select pg_try_advisory_lock(44)"}) {
            JsonNode result = run(sql, 5);
            assertThat(result.get("state").asText()).as(sql).isEqualTo("failed");
            assertThat(result.get("error").get("message").asText()).startsWith("A dataclip may not take advisory locks");
            assertThat(fingerprint()).as(sql).isEqualTo(before);
        }
        try (Statement sql = owner.createStatement(); ResultSet rs = sql.executeQuery("select pg_try_advisory_lock(42)")) {
            rs.next();
            assertThat(rs.getBoolean(1)).as("the clip's lock is gone, so the owner gets it").isTrue();
            sql.execute("select pg_advisory_unlock_all()");
        }
    }

    @Test
    void aQueryBeyondTheTimeLimitIsCancelled() throws Exception {
        List<String> before = fingerprint();
        long start = System.nanoTime();
        JsonNode result = run("select pg_sleep(60)", 2);
        assertThat((System.nanoTime() - start) / 1_000_000_000).isLessThan(30);
        assertThat(result.get("state").asText()).isEqualTo("failed");
        assertThat(result.get("error").get("sqlstate").asText()).isEqualTo("57014");
        assertThat(result.get("error").get("message").asText())
                .isEqualTo("canceling statement due to statement timeout (the dataclip's time limit is 2 s)");
        assertThat(result.get("duration_ms").asLong()).isBetween(1500L, 20_000L);
        assertThat(fingerprint()).isEqualTo(before);
    }

    @Test
    void tenMillionRowsAreCutAtTheRowLimit() throws Exception {
        List<String> before = fingerprint();
        JsonNode result = run("select g, g * 2 as twice from generate_series(1, 10000000) g", 120);
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("succeeded");
        assertThat(result.get("row_count").asLong()).isEqualTo(100_000);
        assertThat(result.get("truncated").asBoolean()).isTrue();
        assertThat(fingerprint()).isEqualTo(before);
    }

    @Test
    void clipsRunAsAReadOnlyRoleInAReadOnlyTransaction() throws Exception {
        JsonNode result = run("select current_user as who, current_setting('transaction_read_only') as ro,"
                + " current_setting('statement_timeout') as timeout, current_setting('transaction_isolation') as iso", 7);
        String id = result.get("id").asText();
        String url = api.post("/v1/dataclips/" + clipOf(id) + "/share", "").field("url");
        String csv = api.withKey(null).get(java.net.URI.create(url).getRawPath() + ".csv").text();
        String role;
        try (Connection catalog = Footprint.catalog(keel.dataDir());
             PreparedStatement find = catalog.prepareStatement("select username from dataclip_roles where database_id = ?")) {
            find.setObject(1, UUID.fromString(databaseId));
            try (ResultSet rs = find.executeQuery()) {
                assertThat(rs.next()).isTrue();
                role = rs.getString(1);
            }
        }
        assertThat(csv).isEqualTo("who,ro,timeout,iso\r\n" + role + ",on,7s,repeatable read\r\n");
        try (PreparedStatement attributes = owner.prepareStatement("select rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
                + " rolbypassrls, rolconfig::text, pg_has_role(rolname, 'pg_read_all_data', 'member'),"
                + " pg_has_role(rolname, 'pg_write_all_data', 'member'), pg_has_role(rolname, 'pg_write_server_files', 'member'),"
                + " pg_has_role(rolname, 'pg_execute_server_program', 'member'), pg_has_role(rolname, 'pg_read_server_files', 'member')"
                + " from pg_roles where rolname = ?")) {
            attributes.setString(1, role);
            try (ResultSet rs = attributes.executeQuery()) {
                assertThat(rs.next()).isTrue();
                for (int column : new int[] {1, 2, 3, 4, 5, 7, 8, 9, 10, 11}) {
                    assertThat(rs.getBoolean(column)).as("column " + column).isFalse();
                }
                assertThat(rs.getString(6)).contains("default_transaction_read_only=on").contains("statement_timeout=600s");
            }
        }
        assertThat(Files.exists(Path.of(PWNED))).isFalse();
    }

    private String clipOf(String resultId) {
        for (JsonNode clip : api.get("/v1/dataclips").json()) {
            if (clip.get("result") != null && resultId.equals(clip.get("result").path("id").asText())) {
                return clip.get("id").asText();
            }
        }
        throw new AssertionError("no dataclip has result " + resultId);
    }
}
