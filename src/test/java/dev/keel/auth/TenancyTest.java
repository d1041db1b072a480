package dev.keel.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.assertj.core.api.Assertions.assertThat;

/** A key sees only its team's resources: another team's are 404 on every endpoint, never 403. */
@ExtendWith(SharedKeel.class)
class TenancyTest {
    @Test
    void eachTeamSeesOnlyItsOwnResourcesOnEveryEndpoint(TestKeel keel) {
        Api a = keel.newTeam("tenant-a-" + System.nanoTime());
        Api b = keel.newTeam("tenant-b-" + System.nanoTime());

        Api.Response createdA = a.post("/v1/databases", "{\"plan\":\"essential-0\"}");
        Api.Response createdB = b.post("/v1/databases", "{\"plan\":\"essential-0\"}");
        String dbA = createdA.field("id");
        String nameA = createdA.field("name");
        String operationA = createdA.json().get("progress").get("operation_id").asText();
        String dbB = createdB.field("id");
        JsonNode keyA = a.get("/v1/api-keys").json().get(0);

        assertThat(ids(b.get("/v1/databases").json())).containsExactly(dbB);
        assertThat(ids(a.get("/v1/databases").json())).containsExactly(dbA);
        assertThat(b.get("/v1/databases/" + dbA).status()).isEqualTo(404);
        assertThat(b.get("/v1/databases/" + nameA).status()).isEqualTo(404);
        assertThat(b.delete("/v1/databases/" + dbA).status()).isEqualTo(404);
        assertThat(b.delete("/v1/databases/" + nameA).status()).isEqualTo(404);
        assertThat(b.get("/v1/operations/" + operationA).status()).isEqualTo(404);
        assertThat(a.get("/v1/operations/" + operationA).status()).isEqualTo(200);
        assertThat(b.get("/v1/api-keys").json().toString()).doesNotContain(keyA.get("id").asText());
        assertThat(b.delete("/v1/api-keys/" + keyA.get("id").asText()).status()).isEqualTo(404);
        assertThat(b.get("/v1/teams").json()).hasSize(1);
        assertThat(a.get("/v1/databases/" + dbB).status()).isEqualTo(404);

        // Nothing B tried touched A's database or key.
        a.awaitAvailable(dbA);
        assertThat(a.get("/v1/api-keys").status()).isEqualTo(200);
        a.deprovision(dbA);
        b.awaitAvailable(dbB);
        b.deprovision(dbB);
    }

    private static java.util.List<String> ids(JsonNode databases) {
        java.util.List<String> ids = new java.util.ArrayList<>();
        databases.forEach(d -> ids.add(d.get("id").asText()));
        return ids;
    }
}
