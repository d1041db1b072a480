package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.NumberedWriter;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code heroku pg:upgrade:dryrun|prepare|cancel|run|wait} of the genuine Heroku CLI: an upgrade
 * from 15 to 18 under a writer that goes through the database's pooler, which follows the
 * database to its new server without the writer's URL changing.
 */
@ExtendWith(SharedKeel.class)
class HerokuUpgradeCliTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pg_dump", "psql", "pgbouncer");
    }

    @Test
    void theHerokuCliDryRunsPreparesCancelsRunsAndWaitsForAnUpgradeWhileThePoolFollows(TestKeel keel) throws Exception {
        Api api = keel.newTeam("cli-upgrade-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"up\"}").status()).isEqualTo(201);
        try {
            ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "up", "--confirm", "up", "--wait", "--", "--version", "15"));
            String id = api.get("/v1/databases").json().get(0).get("id").asText();
            String direct = api.get("/v1/apps/up/config-vars").json().get("DATABASE_URL").asText();
            try (Connection owner = Pg.connect(direct, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table numbered (n bigint primary key, at timestamptz not null default now())");
            }
            ArchiveWaits.awaitInitialBackup(api, id);
            ok(heroku.run("pg:connection-pooling:attach", "-a", "up"));
            String pooled = api.get("/v1/apps/up/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();

            assertThat(ok(heroku.run("pg:upgrade:dryrun", "--version", "18", "-a", "up", "--confirm", "up")).all())
                    .contains("Testing an upgrade of a copy of");
            assertThat(ok(heroku.run("pg:upgrade:wait", "DATABASE_URL", "-a", "up", "--wait-interval", "1")).all())
                    .contains("dry run on a copy of").contains("upgraded from Postgres 15 to 18").contains("the copy was removed");
            assertThat(api.get("/v1/databases/" + id).field("version")).isEqualTo("15");
            Wait.until("the dry run's copy to be gone", Timeouts.DEPROVISION, () -> api.get("/v1/databases").json().size() == 1);

            assertThat(ok(heroku.run("pg:upgrade:prepare", "--version", "18", "-a", "up", "--confirm", "up")).all())
                    .contains("ready to upgrade to Postgres 18");
            assertThat(ok(heroku.run("pg:upgrade:cancel", "-a", "up", "--confirm", "up")).all()).contains("is canceled");
            ok(heroku.run("pg:upgrade:prepare", "--version", "18", "-a", "up", "--confirm", "up"));

            NumberedWriter writer = NumberedWriter.start(keel, () -> pooled, true);
            writer.awaitMore(100);
            assertThat(ok(heroku.run("pg:upgrade:run", "-a", "up", "--confirm", "up")).all()).contains("Upgrading");
            assertThat(ok(heroku.run("pg:upgrade:wait", "DATABASE_URL", "-a", "up", "--wait-interval", "1")).all())
                    .contains("upgraded from Postgres 15 to 18; writes paused");
            writer.awaitMore(100);
            List<Long> acknowledged = writer.stop();
            assertThat(api.get("/v1/apps/up/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText()).isEqualTo(pooled);
            try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select current_setting('server_version_num')::int / 10000")).isEqualTo("18");
                assertThat(Long.parseLong(Pg.scalar(connection, "select count(*) from numbered where n = any(array" + acknowledged
                        + "::bigint[])"))).isEqualTo(acknowledged.size());
            }
            assertThat(ok(heroku.run("pg:info", "-a", "up")).out()).containsPattern("PG Version:\\s+18");
        } finally {
            for (JsonNode db : api.get("/v1/databases").json()) {
                String id = db.get("id").asText();
                if (api.delete("/v1/databases/" + id).status() == 202) { // a dry run's copy may be going already
                    api.awaitGone(id);
                }
            }
        }
    }

    /** A run that succeeded and printed no raw problem document or stack trace (HerokuCommandWalk leaves these commands to this class). */
    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.printsRaw()).as(run.toString()).isFalse();
        return run;
    }
}
