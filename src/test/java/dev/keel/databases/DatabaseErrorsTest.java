package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Each bad input answers its problem, exactly, and changes nothing. */
@ExtendWith(SharedKeel.class)
class DatabaseErrorsTest {
    private static final String PROBLEM = "application/problem+json";

    private static void assertProblem(Api.Response response, int status, String type, String detail) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo(PROBLEM);
        assertThat(response.field("type")).isEqualTo(type);
        assertThat(response.json().get("status").asInt()).isEqualTo(status);
        if (detail != null) {
            assertThat(response.field("detail")).isEqualTo(detail);
        }
    }

    @Test
    void malformedJsonIs400(TestKeel keel) {
        assertProblem(keel.api().post("/v1/databases", "{\"plan\":"), 400, "/problems/bad-request",
                "The request body is not valid JSON (line 1, column 9): send one JSON object with Content-Type: application/json.");
    }

    @Test
    void missingPlanIs422(TestKeel keel) {
        Api.Response response = keel.api().post("/v1/databases", "{}");
        assertProblem(response, 422, "/problems/invalid-request", "Say which plan: \"plan\" is one of essential-0, standard-0, premium-0.");
    }

    @Test
    void unknownPlanIs422NamingTheValidPlans(TestKeel keel) {
        Api.Response response = keel.api().post("/v1/databases", "{\"plan\":\"gold\"}");
        assertProblem(response, 422, "/problems/unknown-plan", "There is no plan 'gold'; choose one of essential-0, standard-0, premium-0.");
        assertThat(response.json().get("valid_values").toString()).isEqualTo("[\"essential-0\",\"standard-0\",\"premium-0\"]");
    }

    @Test
    void unsupportedVersionIs422ListingTheSupportedOnes(TestKeel keel) {
        Api.Response response = keel.api().post("/v1/databases", "{\"plan\":\"standard-0\",\"version\":9}");
        assertProblem(response, 422, "/problems/unsupported-version", "Postgres 9 is not supported; choose one of [14, 15, 16, 17, 18] (default 17).");
        assertThat(response.json().get("valid_values").toString()).isEqualTo("[14,15,16,17,18]");
        assertProblem(keel.api().post("/v1/databases", "{\"plan\":\"standard-0\",\"version\":\"latest\"}"), 422,
                "/problems/unsupported-version", "\"version\" is a Postgres major version such as 17; choose one of [14, 15, 16, 17, 18].");
    }

    @Test
    void invalidNameIs422(TestKeel keel) {
        assertProblem(keel.api().post("/v1/databases", "{\"plan\":\"standard-0\",\"name\":\"My DB\"}"), 422, "/problems/invalid-name",
                "'My DB' is not a valid database name: use 3 to 63 lowercase letters, digits and single dashes, starting with a letter and not ending with a dash.");
    }

    @Test
    void takenNameIs409(TestKeel keel) {
        String name = "taken-" + UUID.randomUUID().toString().substring(0, 8);
        Api.Response first = keel.api().post("/v1/databases", "{\"plan\":\"essential-0\",\"name\":\"" + name + "\"}");
        assertThat(first.status()).isEqualTo(202);
        assertThat(first.field("name")).isEqualTo(name);
        assertProblem(keel.api().post("/v1/databases", "{\"plan\":\"essential-0\",\"name\":\"" + name + "\"}"), 409, "/problems/name-taken",
                "A database named " + name + " already exists; choose another name or leave \"name\" out for a generated one.");
        keel.api().awaitAvailable(first.field("id"));
        JsonNode byName = keel.api().get("/v1/databases/" + name).json();
        assertThat(byName.get("id").asText()).isEqualTo(first.field("id"));
        keel.api().deprovision(name);
    }

    @Test
    void missingOrInvalidApiKeyIs401(TestKeel keel) {
        Api anonymous = keel.api().withKey(null);
        assertProblem(anonymous.get("/v1/databases"), 401, "/problems/unauthorized",
                "Send an API key as Authorization: Bearer <key>; the admin key of a new installation is in <data dir>/admin-api-key.");
        assertProblem(keel.api().withKey("keel_notakey").get("/v1/databases"), 401, "/problems/unauthorized",
                "The API key is not valid (unknown or revoked); create a new one with POST /v1/api-keys.");
        assertProblem(keel.api().withKey("keel_notakey").post("/v1/databases", "{\"plan\":\"standard-0\"}"), 401, "/problems/unauthorized", null);
    }

    @Test
    void unknownDatabaseIs404ByIdOrName(TestKeel keel) {
        String id = UUID.randomUUID().toString();
        assertProblem(keel.api().get("/v1/databases/" + id), 404, "/problems/not-found", "database " + id + " not found");
        assertProblem(keel.api().get("/v1/databases/no-such-db"), 404, "/problems/not-found", "database no-such-db not found");
        assertProblem(keel.api().delete("/v1/databases/" + id), 404, "/problems/not-found", "database " + id + " not found");
    }

    @Test
    void deletingTwiceIs404(TestKeel keel) {
        Api.Response created = keel.api().post("/v1/databases", "{\"plan\":\"essential-0\"}");
        String id = created.field("id");
        Api.Response deleted = keel.api().delete("/v1/databases/" + id);
        assertThat(deleted.status()).isEqualTo(202);
        assertThat(deleted.field("state")).isEqualTo("deleting");
        assertProblem(keel.api().delete("/v1/databases/" + id), 404, "/problems/not-found", "database " + id + " not found");
        keel.api().awaitGone(id);
        assertProblem(keel.api().delete("/v1/databases/" + id), 404, "/problems/not-found", "database " + id + " not found");
        // The provision it interrupted left nothing: no instance of it, and no directory without a catalog row.
        var instances = keel.bean(dev.keel.instances.InstanceRepository.class);
        assertThat(instances.forDatabase(UUID.fromString(id))).isEmpty();
        assertThat(dev.keel.testing.Footprint.instanceDirs(keel.dataDir()))
                .isSubsetOf(instances.all().stream().map(i -> i.id().toString()).toList());
    }

    @Test
    void unknownRoutesAndMethodsAreProblemsToo(TestKeel keel) {
        assertProblem(keel.api().get("/v1/nothing-here"), 404, "/problems/not-found", "There is no resource at /v1/nothing-here.");
        assertProblem(keel.api().send(keel.api().request("/v1/plans").PUT(java.net.http.HttpRequest.BodyPublishers.noBody())), 405,
                "/problems/method-not-allowed", "PUT is not supported on /v1/plans.");
    }

    @Test
    void problemTypesAreDocumentedAtTheirUri(TestKeel keel) {
        Api.Response response = keel.api().withKey(null).get("/problems/unknown-plan");
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.text()).isEqualTo("unknown-plan: Unknown plan (HTTP 422)\n");
    }

    @Test
    void healthNeedsNoKey(TestKeel keel) {
        Api.Response health = keel.api().withKey(null).get("/health");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().toString()).isEqualTo("{\"status\":\"up\",\"catalog\":\"up\"}");
    }

    @Test
    void plansAreListedWithoutAKey(TestKeel keel) {
        JsonNode plans = keel.api().withKey(null).get("/v1/plans").json();
        assertThat(plans).hasSize(3);
        assertThat(plans.get(1).toString()).isEqualTo("{\"name\":\"standard-0\",\"tier\":\"standard\",\"connections\":120,\"storage_gb\":64,"
                + "\"rollback_window_days\":4,\"fork\":true,\"follow\":true,\"ha\":false,\"backup_retention_days\":25}");
    }
}
