package dev.keel.herokuapi;

import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code heroku logs}: the server logs of an app's attached databases through a log session Keel
 * serves, the last lines and then (with {@code --tail}) new ones as they are written; a setting
 * made with {@code pg:settings} shows in them at once.
 */
@ExtendWith(SharedKeel.class)
class HerokuLogsCliTest {
    private static final Pattern TAIL_PROBE = Pattern.compile("app\\[postgres\\.\\d+\\]: \\[DATABASE\\] .*LOG:  (statement|execute [^:]*):"
            + " select 'keel_tail_probe' as tail_probe");

    @Test
    void logsShowAndFollowTheAttachedDatabasesServerLogs(TestKeel keel) throws Exception {
        Api api = keel.newTeam("logs-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"shop\"}").status()).isEqualTo(201);
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop", "--wait"));
        String database = api.get("/v1/databases").json().get(0).get("name").asText();
        String url = api.get("/v1/apps/shop/config-vars").json().get("DATABASE_URL").asText();

        failWith(url, keel, "select 1/0 as keel_logs_probe");
        assertThat(ok(heroku.run("logs", "-a", "shop", "-n", "50")).out()).containsPattern("app\\[postgres\\.\\d+\\]: \\[DATABASE\\] .*"
                + "ERROR:  division by zero").contains("STATEMENT:  select 1/0 as keel_logs_probe");
        assertThat(ok(heroku.run("logs", "-a", "shop", "-p", "postgres", "-n", "5")).out().lines().count()).isBetween(1L, 5L);
        HerokuCli.Run web = heroku.run("logs", "-a", "shop", "-p", "web");
        assertThat(web.exit()).isNotZero();
        assertThat(web.err()).contains("Keel runs no dynos").contains("Error ID: invalid_params");

        // A setting changed with pg:settings applies at once: the statement it logs is in the log.
        ok(heroku.run("pg:settings:log-statement", "DATABASE", "all", "-a", "shop"));
        try (HerokuCli.Running tail = heroku.start("logs", "-a", "shop", "--tail", "-n", "1")) {
            Wait.until("the tail to have started", Timeouts.LOG_LINE, () -> tail.output().contains("app[postgres."));
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("select 'keel_tail_probe' as tail_probe");
            }
            // pgjdbc sends it with the extended protocol: Postgres logs it as an execute.
            Wait.until("the new statement to reach heroku logs --tail", Timeouts.LOG_LINE, () -> TAIL_PROBE.matcher(tail.output()).find());
        }

        // The session URL is the capability: altered, it is not found, in Heroku's shape.
        Api.Response session = api.post("/apps/shop/log-sessions", "{\"lines\":10}");
        assertThat(session.status()).isEqualTo(201);
        String logplex = session.json().get("logplex_url").asText();
        HttpResponse<String> stream = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(logplex)).timeout(Timeouts.REQUEST)
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        assertThat(stream.body()).contains("data:").contains("[DATABASE]");
        String altered = logplex.substring(0, logplex.length() - 3) + (logplex.endsWith("AAA") ? "BBB" : "AAA");
        HttpResponse<String> refused = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(altered)).timeout(Timeouts.REQUEST)
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(404);
        assertThat(Api.parse(refused.body()).get("id").asText()).isEqualTo("not_found");
        api.deprovision(database);
    }

    private static void failWith(String url, TestKeel keel, String query) {
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute(query);
        } catch (SQLException e) {
            assertThat(e.getSQLState()).isEqualTo("22012"); // division_by_zero, written to the server log
        }
    }

    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        return run;
    }
}
