package dev.keel.restore;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.time.Instant;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/** Every refused fork or rollback, with its exact problem. Nothing is restored, so nothing is made. */
@ExtendWith(SharedKeel.class)
class RestoreErrorsTest {
    private static Api api;
    private static JsonNode source;
    private static String name;

    @BeforeAll
    static void source(TestKeel keel) {
        api = keel.api();
        source = api.provision("{\"plan\":\"standard-0\"}");
        name = source.get("name").asText();
        awaitInitialBackup(api, source.get("id").asText());
    }

    @AfterAll
    static void remove() {
        api.deprovision(source.get("id").asText());
    }

    private static Api.Response create(String body) {
        return api.post("/v1/databases", body);
    }

    private static void assertInvalid(Api.Response response, String detail) {
        assertThat(response.status()).as(response.toString()).isEqualTo(422);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(response.field("type")).isEqualTo("/problems/invalid-request");
        assertThat(response.field("detail")).isEqualTo(detail);
    }

    @Test
    void anEssentialPlanCannotForkOrRollBackNorBeForkedOrRolledBack() {
        assertInvalid(create("{\"plan\":\"essential-0\",\"fork\":\"" + name + "\"}"),
                "Plan essential-0 cannot fork; choose a plan that can, such as standard-0, premium-0.");
        JsonNode essential = api.provision("{\"plan\":\"essential-0\"}");
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + essential.get("name").asText() + "\",\"by\":\"1 minute\"}"),
                essential.get("name").asText() + " is on plan essential-0, whose databases cannot be rolled back; change its plan to one of"
                        + " standard-0, premium-0 first.");
        api.deprovision(essential.get("id").asText());
    }

    @Test
    void aRollbackNeedsExactlyOneOfToAndByEachWellFormed() {
        String both = "A rollback needs exactly one of \"to\" (a time such as 2026-11-26T10:15:42Z) or \"by\" (such as \"2 hours 10 minutes\").";
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"2026-11-26T10:15:42Z\",\"by\":\"1 hour\"}"), both);
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\"}"), both);
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"yesterday\"}"),
                "\"to\" is 'yesterday', which is not an RFC 3339 time with an offset; write it like 2026-11-26T10:15:42Z or"
                        + " 2026-11-26T11:15:42+01:00.");
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"2026-11-26T10:15:42\"}"),
                "\"to\" is '2026-11-26T10:15:42', which is not an RFC 3339 time with an offset; write it like 2026-11-26T10:15:42Z or"
                        + " 2026-11-26T11:15:42+01:00.");
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"by\":\"a while\"}"),
                "\"by\" is 'a while', which is not a time span; write it like \"2 hours 10 minutes\", \"3 days 7 hours\" or \"PT2H10M\".");
        assertInvalid(create("{\"plan\":\"standard-0\",\"fork\":\"" + name + "\",\"by\":\"1 hour\"}"),
                "A fork copies its source as of now; for a copy as of an earlier time, ask for \"rollback\" with \"to\" or \"by\".");
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"by\":\"1 hour\",\"fast\":true}"),
                "\"fast\" goes with \"fork\"; a rollback restores to the time in \"to\" or \"by\".");
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"fork\":\"" + name + "\",\"by\":\"1 hour\"}"),
                "Say one of \"fork\", \"rollback\" or \"follow\", not several.");
    }

    @Test
    void aTargetOutsideTheArchivedWindowIsRefusedNamingTheWindow() {
        Instant future = Instant.now().plus(Duration.ofHours(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Api.Response inFuture = create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"" + future + "\"}");
        assertThat(inFuture.status()).isEqualTo(422);
        assertThat(inFuture.field("detail")).startsWith("rollback target " + future + " is in the future; choose a time up to now (");

        JsonNode window = api.get("/v1/databases/" + name + "/archive").json().get("window");
        Instant from = Instant.parse(window.get("from").asText());
        Api.Response before = create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"2020-01-01T00:00:00+01:00\"}");
        // With the WAL receiver caught up, every commit is in the store: the window ends now (the moment
        // the refusal was made, which the refusal's own window gives).
        Instant to = Instant.parse(before.json().get("window").get("to").asText());
        assertThat(to).isAfterOrEqualTo(Instant.parse(window.get("to").asText())).isBeforeOrEqualTo(Instant.now());
        assertInvalid(before, "rollback target 2019-12-31T23:00:00Z is before the earliest restorable time " + from + " of " + name
                + "; choose a time from " + from + " to " + to + ".");
        // Refusals do not touch the source: a refused fork switched no WAL, so the window still starts where it did.
        assertThat(before.json().get("window").get("from").asText()).isEqualTo(from.toString());
    }

    @Test
    void anUnknownSourceIsNotFoundAndAnotherVersionIsRefused() {
        Api.Response unknown = create("{\"plan\":\"standard-0\",\"fork\":\"postgresql-nowhere-00000\"}");
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.field("type")).isEqualTo("/problems/not-found");
        Api.Response version = create("{\"plan\":\"standard-0\",\"fork\":\"" + name + "\",\"version\":\"16\"}");
        assertThat(version.status()).isEqualTo(422);
        assertThat(version.field("type")).isEqualTo("/problems/unsupported-version");
        assertThat(version.field("detail")).isEqualTo("A database made from " + name + " has its Postgres version, 17; leave \"version\""
                + " out or say 17.");
        assertThat(api.get("/v1/databases").json()).noneMatch(d -> !d.get("id").asText().equals(source.get("id").asText())
                && d.path("origin").path("database_id").asText().equals(source.get("id").asText()));
    }
}
