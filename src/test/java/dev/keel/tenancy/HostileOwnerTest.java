package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Instant;
import java.time.temporal.ChronoUnit;

import static dev.keel.testing.ArchiveWaits.awaitBackup;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import static dev.keel.testing.HostileOwner.assertUntouched;
import static dev.keel.testing.HostileOwner.plant;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The owner of a database plants shadowing functions, operators, views and types in
 * {@code public} and puts {@code public} first on its database and role; then every path on
 * which Keel's superuser sessions touch that database, or a copy of it, leaves the owner no
 * superuser and its side-effect table empty. (HA paths: {@link HostileOwnerHaTest}.)
 */
@ExtendWith(SharedKeel.class)
class HostileOwnerTest {
    @Test
    void keelsSessionsNeverRunTheOwnersObjects(TestKeel keel) throws Exception {
        Api api = keel.newTeam("hostile-" + System.nanoTime());
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitInitialBackup(api, id);
        plant(url, keel.caFile());
        Instant planted = Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
        String follower = null;
        String fork = null;
        String rollback = null;
        try {
            JsonNode info = api.get("/v1/databases/" + id + "/info").json();
            assertThat(info.toString()).contains("\"Data Size\"").doesNotContain("unknown");
            assertUntouched(url, keel.caFile(), "info");

            assertThat(api.post("/v1/databases/" + id + "/credentials", "{\"name\":\"analyst\"}").status()).isEqualTo(201);
            assertUntouched(url, keel.caFile(), "credential create");
            assertThat(api.post("/v1/databases/" + id + "/credentials/analyst/rotate", "{\"force\":true}").status()).isEqualTo(200);
            assertUntouched(url, keel.caFile(), "credential rotate");
            assertThat(api.delete("/v1/databases/" + id + "/credentials/analyst").status()).isEqualTo(204);
            assertUntouched(url, keel.caFile(), "credential destroy");

            awaitBackup(api, id, api.post("/v1/databases/" + id + "/backups", "").field("id"));
            assertUntouched(url, keel.caFile(), "backup");

            Api.Response clip = api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"" + id + "\",\"sql\":\"select 1\"}");
            assertThat(clip.status()).as(clip.toString()).isIn(201, 202);
            assertUntouched(url, keel.caFile(), "dataclip role creation");

            follower = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}").field("id");
            api.awaitAvailable(follower, Timeouts.RESTORE);
            assertUntouched(url, keel.caFile(), "follower creation");
            api.get("/v1/databases/" + follower + "/info");
            assertThat(api.post("/v1/databases/" + follower + "/unfollow", "").status()).isEqualTo(202);
            String unfollowing = follower;
            Wait.until("the follower to be unfollowed", Timeouts.RESTORE, () -> api.get("/v1/databases/" + unfollowing).json()
                    .path("following").isNull() && api.get("/v1/databases/" + unfollowing).json().path("progress").isNull());
            assertUntouched(api.get("/v1/databases/" + follower).field("url"), keel.caFile(), "unfollow");
            api.get("/v1/databases/" + follower + "/info");
            assertUntouched(api.get("/v1/databases/" + follower).field("url"), keel.caFile(), "info of the unfollowed copy");

            fork = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}").field("id");
            String forkUrl = api.awaitAvailable(fork, Timeouts.RESTORE).get("url").asText();
            api.get("/v1/databases/" + fork + "/info");
            assertUntouched(forkUrl, keel.caFile(), "fork");

            switchAndAwaitArchived(keel, api, id);
            rollback = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + id + "\",\"to\":\"" + planted + "\"}")
                    .field("id");
            String rollbackUrl = api.awaitAvailable(rollback, Timeouts.RESTORE).get("url").asText();
            api.get("/v1/databases/" + rollback + "/info");
            assertUntouched(rollbackUrl, keel.caFile(), "rollback");
            assertUntouched(url, keel.caFile(), "copies");
        } finally {
            for (String copy : new String[]{follower, fork, rollback}) {
                if (copy != null) {
                    api.deprovision(copy);
                }
            }
            api.deprovision(id);
        }
    }
}
