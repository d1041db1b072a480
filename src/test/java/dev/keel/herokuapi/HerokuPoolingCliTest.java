package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code heroku pg:connection-pooling:attach [--as NAME]} of the genuine Heroku CLI against Keel's poolers. */
@ExtendWith(SharedKeel.class)
class HerokuPoolingCliTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pgbouncer");
    }

    @Test
    void theHerokuCliAttachesADatabaseThroughItsPooler(TestKeel keel) throws Exception {
        Api api = keel.newTeam("cli-pool-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"pl\"}").status()).isEqualTo(201);
        try {
            ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "pl", "--confirm", "pl", "--wait"));
            String addon = api.get("/v1/databases").json().get(0).get("name").asText();
            HerokuCli.Run attach = ok(heroku.run("pg:connection-pooling:attach", "-a", "pl"));
            assertThat(attach.all()).contains("Enabling Connection Pooling on " + addon + " to pl... done")
                    .containsPattern("Setting DATABASE_CONNECTION_POOL config vars and restarting pl\\.\\.\\. done, v\\d+");
            String pooled = ok(heroku.run("config:get", "DATABASE_CONNECTION_POOL_URL", "-a", "pl")).out().strip();
            JsonNode vars = api.get("/v1/apps/pl/config-vars").json();
            assertThat(pooled).isEqualTo(vars.get("DATABASE_CONNECTION_POOL_URL").asText());
            assertThat(Pg.port(pooled)).isNotEqualTo(Pg.port(vars.get("DATABASE_URL").asText()));
            try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select current_database()")).isEqualTo(Pg.database(pooled));
            }
            ok(heroku.run("pg:connection-pooling:attach", "DATABASE_URL", "--as", "REPORTING", "-a", "pl"));
            assertThat(Pg.port(api.get("/v1/apps/pl/config-vars").json().get("REPORTING_URL").asText())).isEqualTo(Pg.port(pooled));
            assertThat(ok(heroku.run("addons", "-a", "pl")).out()).contains("as DATABASE_CONNECTION_POOL").contains("as REPORTING");
        } finally {
            for (JsonNode db : api.get("/v1/databases").json()) {
                api.deprovision(db.get("id").asText());
            }
        }
    }

    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        return run;
    }
}
