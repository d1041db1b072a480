package dev.keel.apps;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Logins;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Apps and attachments end to end: config vars that connect, colour names, detaching, and tenancy. */
@ExtendWith(SharedKeel.class)
class AttachmentsTest {
    @Test
    void attachmentsGiveAppsConfigVarsThatConnectAndDetachingRemovesThem(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String dbName = db.get("name").asText();
        String web = newApp(api);
        String worker = newApp(api);

        Api.Response first = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\"}");
        assertThat(first.status()).as(first.toString()).isEqualTo(201);
        assertThat(first.field("name")).isEqualTo("DATABASE");
        assertThat(first.field("config_var")).isEqualTo("DATABASE_URL");
        assertThat(first.field("credential")).isEqualTo("default");
        assertThat(first.field("url")).isEqualTo("primary");
        JsonNode webVars = api.get("/v1/apps/" + web + "/config-vars").json();
        assertThat(names(webVars)).containsExactly("DATABASE_URL");
        assertThat(webVars.get("DATABASE_URL").asText()).isEqualTo(db.get("url").asText());
        Logins.assertConnects(keel, webVars.get("DATABASE_URL").asText());

        Api.Response again = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + db.get("id").asText() + "\"}");
        assertThat(again.status()).as("attaching the same again changes nothing").isEqualTo(200);
        assertThat(again.field("id")).isEqualTo(first.field("id"));

        // A second attachment, in another app: DATABASE there too, and the database's colour name.
        Api.Response second = api.post("/v1/apps/" + worker + "/attachments", "{\"database\":\"" + dbName + "\"}");
        assertThat(second.status()).isEqualTo(201);
        JsonNode workerVars = api.get("/v1/apps/" + worker + "/config-vars").json();
        assertThat(names(workerVars)).hasSize(2).contains("DATABASE_URL")
                .anySatisfy(name -> assertThat(name).matches("HEROKU_POSTGRESQL_[A-Z]+_URL"));
        String colorVar = names(workerVars).stream().filter(n -> n.startsWith("HEROKU_POSTGRESQL_")).findFirst().orElseThrow();
        for (String name : names(workerVars)) {
            Logins.assertConnects(keel, workerVars.get(name).asText());
        }

        // Under another name in the first app: that name, and the same colour name there too.
        Api.Response named = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"as\":\"ANALYTICS\"}");
        assertThat(named.status()).isEqualTo(201);
        assertThat(names(api.get("/v1/apps/" + web + "/config-vars").json())).containsExactly("ANALYTICS_URL", "DATABASE_URL", colorVar);
        assertThat(api.get("/v1/apps/" + web + "/attachments").json()).hasSize(3);

        Api.Response taken = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"as\":\"ANALYTICS\","
                + "\"credential\":\"nobody\"}");
        assertThat(taken.status()).as(taken.toString()).isEqualTo(422);
        assertThat(taken.field("detail")).contains("has no credential nobody");
        Api.Response badName = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"as\":\"lower case\"}");
        assertThat(badName.status()).isEqualTo(422);
        assertThat(badName.field("type")).isEqualTo("/problems/invalid-name");
        assertThat(api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"nope\"}").status()).isEqualTo(404);
        // A failover URL only for a plan that keeps a standby (HaTest attaches one), never through the one pooler.
        Api.Response noStandby = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"url\":\"failover\"}");
        assertThat(noStandby.status()).as(noStandby.toString()).isEqualTo(422);
        assertThat(noStandby.field("detail")).contains("is on plan standard-0, which keeps no HA standby");
        Api.Response pooledFailover = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"url\":\"failover\","
                + "\"pooled\":true}");
        assertThat(pooledFailover.status()).isEqualTo(422);
        assertThat(pooledFailover.field("detail")).contains("not both");
        Api.Response badForm = api.post("/v1/apps/" + web + "/attachments", "{\"database\":\"" + dbName + "\",\"url\":\"both\"}");
        assertThat(badForm.status()).isEqualTo(422);
        assertThat(badForm.json().get("valid_values").toString()).isEqualTo("[\"primary\",\"failover\"]");
        assertThat(api.get("/v1/apps/" + web + "/attachments").json()).as("refusals add nothing").hasSize(3);

        assertThat(api.delete("/v1/apps/" + web + "/attachments/DATABASE").status()).isEqualTo(204);
        assertThat(names(api.get("/v1/apps/" + web + "/config-vars").json())).containsExactly("ANALYTICS_URL", colorVar);
        assertThat(api.delete("/v1/apps/" + web + "/attachments/DATABASE").status()).isEqualTo(404);
        assertThat(names(api.get("/v1/apps/" + worker + "/config-vars").json())).as("the other app keeps its attachment")
                .contains("DATABASE_URL");

        assertThat(api.delete("/v1/apps/" + worker).status()).isEqualTo(204);
        assertThat(api.get("/v1/apps/" + worker).status()).isEqualTo(404);
        assertThat(api.get("/v1/apps").json().findValues("name").stream().map(JsonNode::asText).toList())
                .contains(web).doesNotContain(worker);

        // Deleting the database detaches it everywhere.
        api.deprovision(db.get("id").asText());
        assertThat(api.get("/v1/apps/" + web + "/attachments").json()).isEmpty();
        assertThat(api.delete("/v1/apps/" + web).status()).isEqualTo(204);
    }

    @Test
    void appsRefuseBadNamesAndAnotherTeamSeesNoneOfThem(TestKeel keel) {
        Api api = keel.api();
        Api other = keel.newTeam("apps-other-" + System.nanoTime());
        String app = newApp(api);
        assertThat(api.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(409);
        Api.Response bad = api.post("/v1/apps", "{\"name\":\"Not An App\"}");
        assertThat(bad.status()).isEqualTo(422);
        assertThat(bad.field("detail")).contains("lowercase letters, digits and dashes");

        JsonNode theirs = other.post("/v1/databases", "{\"plan\":\"essential-0\"}").json();
        String theirApp = newApp(other);
        assertThat(other.get("/v1/apps/" + app).status()).isEqualTo(404);
        assertThat(other.get("/v1/apps/" + app + "/config-vars").status()).isEqualTo(404);
        assertThat(other.get("/v1/apps/" + app + "/attachments").status()).isEqualTo(404);
        assertThat(other.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + theirs.get("name").asText() + "\"}").status())
                .isEqualTo(404);
        assertThat(other.delete("/v1/apps/" + app).status()).isEqualTo(404);
        assertThat(other.delete("/v1/apps/" + app + "/attachments/DATABASE").status()).isEqualTo(404);
        assertThat(api.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + theirs.get("name").asText() + "\"}").status())
                .as("another team's database is not found").isEqualTo(404);
        assertThat(api.get("/v1/apps").json().toString()).doesNotContain(theirApp);
        // The same app name in another team is another app.
        assertThat(other.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(201);
        assertThat(api.get("/v1/apps/" + app).status()).isEqualTo(200);
        other.awaitAvailable(theirs.get("id").asText());
        other.deprovision(theirs.get("id").asText());
    }

    static String newApp(Api api) {
        String name = "app-" + UUID.randomUUID().toString().substring(0, 8);
        Api.Response created = api.post("/v1/apps", "{\"name\":\"" + name + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return name;
    }

    private static List<String> names(JsonNode object) {
        List<String> names = new ArrayList<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
