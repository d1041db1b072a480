package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code heroku pg:diagnose} against a database with problems each check should find: a query
 * running and a transaction idle for over a minute, one blocking the other, a sequence near its
 * end, an unlogged table, many schemas. Each is graded as Heroku's checks grade it, with the rows
 * that offend, and the report is shown again by its id.
 */
@ExtendWith(SharedKeel.class)
class HerokuDiagnoseCliTest {
    @Test
    void diagnoseGradesHerokusChecksWithTheOffendingRowsAndKeepsItsReports(TestKeel keel) throws Exception {
        Api api = keel.newTeam("diagnose-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"shop\"}").status()).isEqualTo(201);
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop", "--wait"));
        String database = api.get("/v1/databases").json().get(0).get("name").asText();
        String url = api.get("/v1/apps/shop/config-vars").json().get("DATABASE_URL").asText();
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create unlogged table scratch (id int)");
            sql.execute("create table orders (id int)");
            sql.execute("create sequence order_numbers as integer");
            sql.execute("select setval('order_numbers', 2000000000)"); // 93% of an integer's range
            for (int i = 0; i < 55; i++) {
                sql.execute("create schema tenant_" + i);
            }
        }
        List<Connection> sessions = new ArrayList<>();
        CompletableFuture<Void> blocked = CompletableFuture.completedFuture(null);
        try {
            Connection holder = Pg.connect(url, keel.caFile());
            sessions.add(holder);
            holder.setAutoCommit(false);
            holder.createStatement().execute("lock table orders in access exclusive mode"); // then idle in its transaction
            Connection waiter = Pg.connect(url, keel.caFile());
            sessions.add(waiter);
            blocked = CompletableFuture.runAsync(() -> {
                try (Statement sql = waiter.createStatement()) {
                    sql.execute("select count(*) from orders"); // waits for the lock: a long, blocked query
                } catch (SQLException e) {
                    // ended when the test closes the sessions
                }
            });
            // Asked through one session (not counted: it is idle between polls), not a new connection per poll for a minute.
            try (Connection watcher = Pg.connect(url, keel.caFile())) {
                Wait.until("a transaction idle and a query running for over a minute", Timeouts.DIAGNOSE_MINUTE, () -> "2".equals(
                        asked(watcher, "select count(*) from pg_stat_activity where pid <> pg_backend_pid() and state_change"
                                + " < now() - interval '62 seconds' and state in ('active', 'idle in transaction')")));
            }

            HerokuCli.Run report = ok(heroku.run("pg:diagnose", "-a", "shop"));
            assertThat(report.out()).containsPattern("Report [0-9a-f-]{36} for shop::DATABASE_URL")
                    .contains("RED: Long Queries").contains("RED: Idle in Transaction").contains("RED: Blocking Queries")
                    .contains("RED: Sequences").contains("public.order_numbers").contains("93.13")
                    .contains("YELLOW: Unlogged Tables").contains("public.scratch")
                    .contains("YELLOW: Schema Count").contains("Count 56")
                    .contains("GREEN: Connection Count").contains("GREEN: Long Transactions").contains("GREEN: Database Transaction ID Wraparound")
                    .contains("select count(*) from orders")
                    .doesNotContain("SKIPPED"); // no check waits for the lock the idle transaction holds
            String id = report.out().replaceAll("(?s).*Report ([0-9a-f-]{36}) for.*", "$1");

            JsonNode again = Api.parse(ok(heroku.run("pg:diagnose", id, "-a", "shop", "--json")).out());
            assertThat(again.get("id").asText()).isEqualTo(id);
            assertThat(again.get("database").asText()).isEqualTo("DATABASE_URL");
            List<String> names = new ArrayList<>();
            again.get("checks").forEach(c -> names.add(c.get("name").asText()));
            assertThat(names).containsExactly("Connection Count", "Long Queries", "Long Transactions", "Idle in Transaction", "Indexes",
                    "Bloat", "Hit Rate", "Blocking Queries", "Sequences", "Unlogged Tables", "Table Transaction ID Wraparound",
                    "Database Transaction ID Wraparound", "Schema Count", "Load");
            assertThat(ok(heroku.run("pg:diagnose", id, "-a", "shop")).out()).contains("RED: Blocking Queries").contains(id);

            Api stranger = keel.newTeam("stranger-" + System.nanoTime());
            Api.Response foreign = stranger.get("/reports/" + id);
            assertThat(foreign.status()).isEqualTo(404);
            assertThat(foreign.json().get("id").asText()).isEqualTo("not_found");
        } finally {
            for (Connection session : sessions) {
                session.close();
            }
        }
        blocked.join();
        api.deprovision(database);
    }

    /** The query's answer; a failure goes to the wait that asks, which says it should it time out. */
    private static String asked(Connection session, String query) {
        try {
            return Pg.scalar(session, query);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        return run;
    }
}
