package dev.keel.herokuapi;

import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Logins;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code pg:killall}, {@code pg:credentials:repair-default}, {@code pg:stats-reset},
 * {@code pg:diagnose} and {@code pg:reset} through the genuine CLI, against a hostile owner: it
 * has shadowed the functions and operators Keel's SQL uses with its own (which would make it a
 * superuser, and note that they ran) and put its {@code public} first in the database's and its
 * role's search_path. None of its code may run in Keel's sessions.
 */
@ExtendWith(SharedKeel.class)
class HerokuMaintenanceCliTest {
    @Test
    void resetKillallRepairAndStatsResetDoTheirWorkAndNeverRunTheOwnersCode(TestKeel keel) throws Exception {
        Api api = keel.newTeam("upkeep-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"shop\"}").status()).isEqualTo(201);
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop", "--wait"));
        String database = api.get("/v1/databases").json().get(0).get("name").asText();
        String url = api.get("/v1/apps/shop/config-vars").json().get("DATABASE_URL").asText();
        ok(heroku.run("pg:credentials:create", "--name", "analyst", "-a", "shop"));
        ok(heroku.run("addons:attach", database, "-a", "shop", "--as", "ANALYST", "--credential", "analyst"));
        String analystUrl = api.get("/v1/apps/shop/config-vars").json().get("ANALYST_URL").asText();
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create table items (id int primary key)");
            sql.execute("insert into items select generate_series(1, 100)");
            sql.execute("grant create on schema public to analyst");
            sql.execute(hostile());
            // In a session resolving names as the owner set them up, its operator is the one that runs: the trap works.
            sql.execute("set search_path = public, pg_catalog");
            sql.execute("select 'x'::name = 'y'::text");
            assertThat(Pg.scalar(owner, "select count(*) from ran")).isEqualTo("1");
            sql.execute("delete from ran");
        }
        try (Connection analyst = Pg.connect(analystUrl, keel.caFile()); Statement sql = analyst.createStatement()) {
            sql.execute("create table analyst_notes (note text)");
        }

        // pg:killall ends the credentials' sessions, Keel's own go on.
        try (Connection owner = Pg.connect(url, keel.caFile()); Connection analyst = Pg.connect(analystUrl, keel.caFile())) {
            assertThat(ok(heroku.run("pg:killall", "-a", "shop")).all()).contains("Terminating connections for all credentials... done");
            assertThatThrownBy(() -> Pg.scalar(owner, "select 1")).isInstanceOf(SQLException.class);
            assertThatThrownBy(() -> Pg.scalar(analyst, "select 1")).isInstanceOf(SQLException.class);
        }

        // repair-default: what analyst made is the owner's, and the owner may grant analyst.
        assertThat(ok(heroku.run("pg:credentials:repair-default", "-a", "shop", "--confirm", "shop")).all())
                .contains("Resetting permissions and object ownership for default role to factory settings... done");
        try (Connection owner = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(owner, "select tableowner = current_user from pg_tables where tablename = 'analyst_notes'")).isEqualTo("t");
            assertThat(Pg.scalar(owner, "select admin_option from pg_auth_members m join pg_roles r on r.oid = m.roleid"
                    + " where r.rolname = 'analyst' and m.member = (select oid from pg_roles where rolname = current_user)")).isEqualTo("t");
        }

        // stats-reset and diagnose run on the database too.
        count(url, keel, "select count(*) from items");
        Wait.until("the scan of items to be counted", Timeouts.REQUEST,
                () -> !quietly(url, keel, "select seq_scan from pg_stat_user_tables where relname = 'items'").equals("0"));
        assertThat(ok(heroku.run("pg:stats-reset", "-a", "shop")).out()).contains("Statistics of " + database);
        assertThat(count(url, keel, "select seq_scan from pg_stat_user_tables where relname = 'items'")).isEqualTo("0");
        assertThat(ok(heroku.run("pg:diagnose", "-a", "shop")).out()).contains("for shop::DATABASE_URL").contains("Sequences")
                .doesNotContain("SKIPPED");
        assertOwnersCodeNeverRan(url, keel, true);

        // pg:reset needs the confirmation; without it nothing changes.
        HerokuCli.Run unconfirmed = heroku.run("pg:reset", "-a", "shop");
        assertThat(unconfirmed.all()).contains("To proceed, type shop or re-run this command with --confirm shop");
        assertThat(count(url, keel, "select count(*) from items")).isEqualTo("100");
        HerokuCli.Run untrusted = heroku.run("pg:reset", "-a", "shop", "--confirm", "shop", "--extensions", "file_fdw");
        assertThat(untrusted.exit()).isNotZero();
        assertThat(untrusted.err()).contains("file_fdw is not one. Nothing was reset.").contains("Error ID: invalid_params");
        assertThat(count(url, keel, "select count(*) from items")).isEqualTo("100");

        assertThat(ok(heroku.run("pg:reset", "-a", "shop", "--confirm", "shop", "--extensions", "pgcrypto,citext")).all())
                .contains("Resetting " + database + "... done");
        assertOwnersCodeNeverRan(url, keel, false);
        try (Connection owner = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(owner, "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace"
                    + " where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and c.relkind in ('r', 'v', 'S')"
                    + " and c.relname not like 'pg_stat_statements%'")).isEqualTo("0");
            assertThat(Pg.scalar(owner, "select string_agg(nspname, ',' order by nspname) from pg_namespace"
                    + " where nspname not like 'pg\\_%' and nspname <> 'information_schema'")).isEqualTo("public");
            assertThat(Pg.scalar(owner, "select string_agg(extname, ',' order by extname) from pg_extension"))
                    .isEqualTo("citext,pg_stat_statements,pgcrypto,plpgsql");
            assertThat(Pg.scalar(owner, "select count(*) from pg_largeobject_metadata")).isEqualTo("0");
            assertThat(Pg.scalar(owner, "select nspowner::regrole::text = current_user from pg_namespace where nspname = 'public'"))
                    .isEqualTo("t");
            owner.createStatement().execute("create table after_reset (id int)"); // the owner may create in public again
        }
        Logins.assertConnects(keel, analystUrl); // credentials and attachments stay
        assertThat(api.get("/v1/apps/shop/config-vars").json().has("ANALYST_URL")).isTrue();
        api.deprovision(database);
    }

    /** The owner is no superuser, and (unless its table went with the reset) none of its traps noted a call. */
    private static void assertOwnersCodeNeverRan(String url, TestKeel keel, boolean noted) throws SQLException {
        try (Connection owner = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(owner, "select rolsuper from pg_roles where rolname = current_user")).isEqualTo("f");
            if (noted) {
                assertThat(Pg.scalar(owner, "select coalesce(string_agg(what, ', '), 'nothing') from ran")).isEqualTo("nothing");
            }
        }
    }

    private static String count(String url, TestKeel keel, String query) throws SQLException {
        try (Connection owner = Pg.connect(url, keel.caFile())) {
            return Pg.scalar(owner, query);
        }
    }

    private static String quietly(String url, TestKeel keel, String query) {
        try {
            return count(url, keel, query);
        } catch (SQLException e) {
            return "0";
        }
    }

    private static String hostile() throws IOException {
        try (var in = HerokuMaintenanceCliTest.class.getResourceAsStream("hostile-owner.sql")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** A run that succeeded and printed no raw problem document or stack trace (HerokuCommandWalk leaves these commands to this class). */
    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.printsRaw()).as(run.toString()).isFalse();
        return run;
    }
}
