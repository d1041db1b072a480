package dev.keel.restore;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

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

        // The source is quiet once its window's end stops moving: WAL streamed after its first backup
        // (a checkpoint, a snapshot of running transactions) moves it, and a quiet server writes none.
        JsonNode window = Wait.until("the source's window to stop moving", Timeouts.PROVISION, () -> {
            JsonNode first = api.get("/v1/databases/" + name + "/archive").json().get("window");
            try {
                Thread.sleep(2000);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            JsonNode second = api.get("/v1/databases/" + name + "/archive").json().get("window");
            return first.equals(second) ? Optional.of(second) : Optional.empty();
        });
        Instant from = Instant.parse(window.get("from").asText());
        Instant to = Instant.parse(window.get("to").asText());
        Api.Response before = create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"2020-01-01T00:00:00+01:00\"}");
        assertInvalid(before, "rollback target 2019-12-31T23:00:00Z is before the earliest restorable time " + from + " of " + name
                + "; choose a time from " + from + " to " + to + ".");
        // Refusals do not touch the source: a refused fork switched no WAL, so the window still ends where it did.
        assertThat(before.json().get("window").get("from").asText()).isEqualTo(from.toString());

        Instant after = to.plusSeconds(1);
        Wait.until("the clock to pass " + after, Duration.ofSeconds(5), () -> Instant.now().isAfter(after) ? Optional.of(true) : Optional.empty());
        // The source is idle, so no segment finishes meanwhile and the window stays where it was.
        assertInvalid(create("{\"plan\":\"standard-0\",\"rollback\":\"" + name + "\",\"to\":\"" + after + "\"}"),
                "rollback target " + after + " is after the newest archived WAL of " + name + " (finished " + to + "); WAL is"
                        + " archived at least every archive_timeout, so try again shortly, or choose a time from " + from + " to "
                        + to + ".");
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
