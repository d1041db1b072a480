package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.HostileOwner.assertUntouched;
import static dev.keel.testing.HostileOwner.plant;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * As {@link HostileOwnerTest}, on the paths of high availability: a plan change to premium (the
 * standby built), a switchover, a failover of a hung primary, and the delete.
 */
@ExtendWith(SharedKeel.class)
class HostileOwnerHaTest {
    @Test
    void planChangeSwitchoverFailoverAndDeleteNeverRunTheOwnersObjects(TestKeel keel) throws Exception {
        Api api = keel.newTeam("hostile-ha-" + System.nanoTime());
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        plant(url, keel.caFile());
        boolean deleted = false;
        try {
            Api.Response changed = api.patch("/v1/databases/" + id, "{\"plan\":\"premium-0\"}");
            assertThat(changed.status()).as(changed.toString()).isEqualTo(202);
            awaitInitialBackup(api, id);
            Wait.until("HA status of " + id + " to be Available", Timeouts.RESTORE,
                    () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));
            assertUntouched(url, keel.caFile(), "plan change and standby build");

            Api.Response switched = api.post("/v1/databases/" + id + "/failover", "");
            assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
            String switchedUrl = awaitNewUrl(api, id, url);
            assertUntouched(switchedUrl, keel.caFile(), "switchover");

            Wait.until("HA status of " + id + " to be Available again", Timeouts.RESTORE,
                    () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));
            Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
            Path pidFile = keel.serverDir().resolve("instances").resolve(primary.id().toString()).resolve("data").resolve("postmaster.pid");
            long pid = Long.parseLong(Files.readAllLines(pidFile).get(0).strip());
            assertThat(new ProcessBuilder("kill", "-STOP", Long.toString(pid)).inheritIO().start().waitFor()).isZero();
            String failedOverUrl = awaitNewUrl(api, id, switchedUrl);
            assertUntouched(failedOverUrl, keel.caFile(), "failover");

            api.deprovision(id);
            deleted = true;
        } finally {
            if (!deleted) {
                api.deprovision(id);
            }
        }
    }

    private static String awaitNewUrl(Api api, String id, String old) {
        return Wait.until("the url of " + id + " to name a new primary", Timeouts.RESTORE, () -> {
            String now = api.get("/v1/databases/" + id).field("url");
            return now != null && !now.equals(old) ? Optional.of(now) : Optional.empty();
        });
    }
}
