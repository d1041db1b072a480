package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Logins;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpRequest;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The genuine Heroku CLI ({@code heroku@11.10.0}) against Keel: each command's output, and the
 * state it leaves (the database exists, the URL connects, the rotation took effect).
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(5)
@ExtendWith(SharedKeel.class)
class HerokuCliTest {
    @Test
    void addOnsConfigCredentialsAndPsqlWorkFromTheHerokuCli(TestKeel keel) throws Exception {
        Api api = keel.newTeam("cli-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"myapp\"}").status()).isEqualTo(201);
        assertThat(api.post("/v1/apps", "{\"name\":\"other\"}").status()).isEqualTo(201);

        HerokuCli.Run created = ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "myapp", "--confirm", "myapp", "--wait"));
        assertThat(created.err()).contains("Creating heroku-postgresql:standard-0 on myapp... ~$0.069/hour (max $50/month)");
        String addon = api.get("/v1/databases").json().get(0).get("name").asText();
        assertThat(created.all()).contains("Created " + addon + " as DATABASE_URL");
        assertThat(api.get("/v1/databases/" + addon).field("state")).isEqualTo("available");

        assertThat(ok(heroku.run("addons", "-a", "myapp")).out()).contains("heroku-postgresql (" + addon + ")").contains("standard-0")
                .contains("$50/month").contains("created").contains("└─ as DATABASE");
        assertThat(ok(heroku.run("addons:info", addon)).out()).contains("Plan:         heroku-postgresql:standard-0")
                .contains("Attachments:  myapp::DATABASE").contains("Owning app:   myapp").contains("State:        created");
        String url = api.get("/v1/apps/myapp/config-vars").json().get("DATABASE_URL").asText();
        assertThat(ok(heroku.run("config", "-a", "myapp")).out()).contains("=== myapp Config Vars").contains("DATABASE_URL: " + url);
        assertThat(ok(heroku.run("config:get", "DATABASE_URL", "-a", "myapp")).out().strip()).isEqualTo(url);
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create table items (id int primary key)");
            sql.execute("insert into items select generate_series(1, 3)");
        }

        assertThat(ok(heroku.run("pg:info", "-a", "myapp")).out()).contains("=== DATABASE_URL").contains("Plan:")
                .containsPattern("Status:\\s+Available").containsPattern("Tables:\\s+1").containsPattern("Add-on:\\s+" + addon);
        ok(heroku.run("pg:wait", "-a", "myapp"));

        // Credentials: create, list, url, attach to another app, rotate, detach, destroy.
        assertThat(ok(heroku.run("pg:credentials:create", "--name", "analyst", "-a", "myapp")).all())
                .contains("Creating credential analyst... done");
        assertThat(ok(heroku.run("pg:credentials", "-a", "myapp")).out()).contains("default").contains("analyst").contains("active");
        HerokuCli.Run credentialUrl = ok(heroku.run("pg:credentials:url", "-a", "myapp"));
        assertThat(credentialUrl.out()).contains("Connection information for default credential.").contains(url.replace("?sslmode=require", ""));
        ok(heroku.run("addons:attach", addon, "-a", "other", "--as", "ANALYST", "--credential", "analyst"));
        String analystUrl = api.get("/v1/apps/other/config-vars").json().get("ANALYST_URL").asText();
        assertThat(analystUrl).startsWith("postgres://analyst:");
        assertThat(ok(heroku.run("config:get", "ANALYST_URL", "-a", "other")).out().strip()).isEqualTo(analystUrl);
        assertThat(ok(heroku.run("pg:credentials:rotate", "--name", "analyst", "-a", "myapp", "--confirm", "myapp")).all())
                .contains("Rotating analyst on " + addon + "... done");
        String rotatedUrl = api.get("/v1/apps/other/config-vars").json().get("ANALYST_URL").asText();
        assertThat(rotatedUrl).isNotEqualTo(analystUrl);
        Logins.assertPasswordRefused(keel, analystUrl);
        try (Connection analyst = Pg.connect(rotatedUrl, keel.caFile())) {
            assertThat(Pg.scalar(analyst, "select current_user")).isEqualTo("analyst");
        }
        ok(heroku.run("addons:detach", "ANALYST", "-a", "other"));
        assertThat(api.get("/v1/apps/other/config-vars").json().has("ANALYST_URL")).isFalse();
        assertThat(ok(heroku.run("pg:credentials:destroy", "--name", "analyst", "-a", "myapp", "--confirm", "myapp")).all())
                .contains("The credential has been destroyed within " + addon);
        assertThat(api.get("/v1/databases/" + addon + "/credentials").json()).hasSize(1);

        // Through the local psql.
        assertThat(ok(heroku.run("pg:psql", "-c", "select count(*) from items", "-a", "myapp")).out()).contains("3").contains("(1 row)");
        assertThat(ok(heroku.run("pg:ps", "-a", "myapp")).out()).contains("pid").contains("state");
        assertThat(ok(heroku.run("pg:kill", "999999", "-a", "myapp")).out()).contains("pg_cancel_backend").contains("f");

        // Backups (logical ones, pg_dump files): HerokuBackupsCliTest.

        // Fork, follow, unfollow, rollback, promote, destroy.
        HerokuCli.Run fork = ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "myapp", "--confirm", "myapp", "--wait",
                "--", "--fork", "DATABASE"));
        assertThat(fork.all()).containsPattern("Created postgresql-[a-z]+-\\d+ as HEROKU_POSTGRESQL_[A-Z]+_URL");
        assertThat(ok(heroku.run("pg:info", "-a", "myapp")).out()).containsPattern("Forked From:\\s+" + addon);
        HerokuCli.Run follow = ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "myapp", "--confirm", "myapp", "--wait",
                "--", "--follow", "DATABASE"));
        String followerVar = follow.all().replaceAll("(?s).*Created postgresql-[a-z]+-\\d+ as (HEROKU_POSTGRESQL_[A-Z]+)_URL.*", "$1");
        assertThat(ok(heroku.run("pg:info", followerVar, "-a", "myapp")).out()).containsPattern("Following:\\s+" + addon);
        // A plan change its follower cannot follow is refused, naming the follower.
        String followerName = follow.all().replaceAll("(?s).*Created (postgresql-[a-z]+-\\d+) as .*", "$1");
        HerokuCli.Run blocked = heroku.run("addons:downgrade", addon, "essential-0", "-a", "myapp");
        assertThat(blocked.exit()).isNotZero();
        assertThat(blocked.err().replaceAll("\\s*\\n\\s*›?\\s*", " ")).contains(addon + " has followers (" + followerName + ")")
                .contains("Error ID: conflict");
        assertThat(api.get("/v1/databases/" + addon).field("plan")).isEqualTo("standard-0");
        assertThat(ok(heroku.run("pg:unfollow", followerVar, "-a", "myapp", "--confirm", "myapp")).all()).contains("unfollowing... done");
        // Waited for through the API: each poll through the CLI would start Node again. The CLI then shows it once.
        Wait.until("the follower to be unfollowed", Timeouts.PROVISION, () -> {
            JsonNode unfollowed = api.get("/v1/databases/" + followerName).json();
            return unfollowed.path("following").isNull() && unfollowed.path("progress").isNull();
        });
        assertThat(ok(heroku.run("pg:info", followerVar, "-a", "myapp")).out()).doesNotContain("Following:");

        JsonNode window = Wait.until("a rollback window of a few seconds", Duration.ofSeconds(120), () -> {
            JsonNode w = api.get("/v1/databases/" + addon + "/archive").json().get("window");
            return w != null && !w.isNull() && Duration.between(Instant.parse(w.get("from").asText()), Instant.parse(w.get("to").asText()))
                    .getSeconds() >= 3 ? java.util.Optional.of(w) : java.util.Optional.empty();
        });
        String to = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC)
                .format(Instant.parse(window.get("from").asText()).truncatedTo(ChronoUnit.SECONDS).plusSeconds(2)) + "+00";
        HerokuCli.Run rollback = ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "myapp", "--confirm", "myapp",
                "--wait", "--", "--rollback", "DATABASE", "--to", to));
        String rolledBack = rollback.all().replaceAll("(?s).*Created (postgresql-[a-z]+-\\d+) as .*", "$1");
        assertThat(api.get("/v1/databases/" + rolledBack).json().get("origin").get("kind").asText()).isEqualTo("rollback");

        assertThat(ok(heroku.run("pg:promote", followerVar, "-a", "myapp")).all()).contains("to DATABASE_URL on myapp... done");
        assertThat(api.get("/v1/apps/myapp/config-vars").json().get("DATABASE_URL").asText())
                .isEqualTo(api.get("/v1/apps/myapp/config-vars").json().get(followerVar + "_URL").asText());
        assertThat(ok(heroku.run("addons:destroy", rolledBack, "-a", "myapp", "--confirm", "myapp")).all())
                .contains("Destroying " + rolledBack + " on myapp... done");
        Wait.until("the destroyed add-on to be gone", Timeouts.DEPROVISION, () -> api.get("/v1/databases/" + rolledBack).status() == 404);
        assertThat(ok(heroku.run("addons", "-a", "myapp")).out()).doesNotContain(rolledBack);

        for (JsonNode db : api.get("/v1/databases").json()) {
            api.deprovision(db.get("id").asText());
        }
    }

    @Test
    void appsOfTheCliAreKeelsAppsAndDestroyingOneDestroysTheAddOnsItOwns(TestKeel keel) throws Exception {
        Api api = keel.newTeam("apps-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(ok(heroku.run("apps:create", "shop")).all()).contains("Creating shop... done").contains("/v1/apps/shop");
        String generated = ok(heroku.run("apps:create")).all().replaceAll("(?s).*Creating app\\.\\.\\. done, ([a-z0-9-]+).*", "$1");
        assertThat(generated).matches("[a-z]+-[a-z]+-\\d{5}");
        assertThat(api.post("/v1/apps", "{\"name\":\"from-api\"}").status()).isEqualTo(201);
        assertThat(ok(heroku.run("apps")).out()).contains("shop").contains(generated).contains("from-api");
        assertThat(api.get("/v1/apps").text()).contains("\"shop\"").contains("\"" + generated + "\"");
        HerokuCli.Run invalid = heroku.run("apps:create", "Not_An_App");
        assertThat(invalid.exit()).isNotZero();
        assertThat(invalid.err()).contains("An app name is 2 to 30 characters").contains("Error ID: invalid_params");

        // shop owns one database; another, owned by from-api, is attached to shop as well.
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop"));
        String owned = api.get("/v1/databases").json().get(0).get("name").asText();
        String other = api.provision("{\"plan\":\"standard-0\"}").get("name").asText();
        assertThat(api.post("/v1/apps/from-api/attachments", "{\"database\":\"" + other + "\"}").status()).isEqualTo(201);
        assertThat(api.post("/v1/apps/shop/attachments", "{\"database\":\"" + other + "\",\"as\":\"OTHER\"}").status()).isEqualTo(201);
        api.awaitAvailable(owned);
        api.awaitAvailable(other);
        assertThat(ok(heroku.run("apps:info", "-a", "shop")).out()).contains("=== shop").contains("heroku-postgresql:standard-0")
                .containsPattern("Owner:\\s+apps-").containsPattern("Dynos:\\s*\n");

        String url = api.get("/v1/apps/shop/config-vars").json().get("DATABASE_URL").asText();
        assertThat(ok(heroku.run("apps:rename", "store", "-a", "shop")).all()).contains("Renaming shop to store... done");
        assertThat(api.get("/v1/apps/shop").status()).isEqualTo(404);
        assertThat(api.get("/v1/apps/store/config-vars").json().get("DATABASE_URL").asText()).isEqualTo(url);

        assertThat(ok(heroku.run("apps:destroy", "-a", "store", "--confirm", "store")).all())
                .contains("Destroying store (including all add-ons)... done");
        assertThat(api.get("/v1/apps/store").status()).isEqualTo(404);
        Wait.until("the add-on store owned to be gone", Timeouts.DEPROVISION, () -> api.get("/v1/databases/" + owned).status() == 404);
        assertThat(api.get("/v1/databases/" + other).field("state")).isEqualTo("available");
        assertThat(api.get("/v1/apps/from-api/config-vars").json().has("DATABASE_URL")).isTrue();
        api.deprovision(other);
    }

    @Test
    void everyPathTheCliMightCallAnswersInHerokusShapeAndSaysWhyKeelLeavesItOut(TestKeel keel) throws Exception {
        Api api = keel.newTeam("shape-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"web\"}").status()).isEqualTo(201);
        Map<String, String> why = new LinkedHashMap<>();
        why.put("POST /apps/web/dynos", "Keel runs no dynos");
        why.put("PATCH /apps/web/formation", "Keel runs no dynos");
        why.put("PUT /apps/web/buildpack-installations", "Keel builds and runs no code, so there is no git push");
        why.put("POST /apps/web/builds", "Keel builds and runs no code, so there is no git push");
        why.put("PATCH /apps/web/config-vars", "Keel keeps no config vars of its own");
        why.put("GET /apps/web/domains", "Keel serves no web traffic for apps");
        why.put("GET /pipelines", "Keel has no pipelines");
        why.put("GET /client/v11/databases/x/links", "Keel makes no data links");
        why.put("GET /no/such/path", "GET /no/such/path is not a call those commands make");
        for (Map.Entry<String, String> call : why.entrySet()) {
            String[] methodPath = call.getKey().split(" ");
            Api.Response answer = api.send(api.request(methodPath[1]).method(methodPath[0], HttpRequest.BodyPublishers.ofString("{}"))
                    .header("Content-Type", "application/json"));
            assertThat(answer.status()).as(call.getKey()).isEqualTo(404);
            assertThat(answer.contentType()).as(call.getKey()).startsWith("application/json");
            assertThat(answer.json().get("id").asText()).as(call.getKey()).isEqualTo("not_found");
            assertThat(answer.json().get("message").asText()).as(call.getKey()).contains(call.getValue());
        }
        // Keel's own API keeps its problem documents.
        assertThat(api.get("/v1/no-such-thing").contentType()).startsWith("application/problem+json");

        for (String[] command : List.of(new String[]{"run", "bash", "-a", "web"}, new String[]{"ps:scale", "web=1", "-a", "web"},
                new String[]{"buildpacks", "-a", "web"}, new String[]{"config:set", "RAILS_ENV=production", "-a", "web"})) {
            HerokuCli.Run refused = heroku.run(command);
            assertThat(refused.exit()).as(String.join(" ", command)).isNotZero();
            assertThat(refused.err()).as(String.join(" ", command)).contains("Error ID: not_found").containsPattern("Keel (runs|builds|keeps)")
                    .doesNotContain("problem").doesNotContain("    at ");
        }
    }

    @Test
    void aWrongKeyIsRefusedAsHerokuDoes(TestKeel keel) throws Exception {
        HerokuCli heroku = HerokuCli.against(keel, "not-a-key");
        HerokuCli.Run refused = heroku.run("config", "-a", "myapp");
        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("HEROKU_API_KEY is invalid");
    }

    /** A run that succeeded and printed no raw problem document or stack trace (HerokuCommandWalk leaves these commands to this class). */
    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.printsRaw()).as(run.toString()).isFalse();
        return run;
    }
}
