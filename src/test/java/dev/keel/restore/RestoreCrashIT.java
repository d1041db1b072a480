package dev.keel.restore;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code kill -9} of Keel while a fork restores: the next start retries it from the start, and the source never notices. */
class RestoreCrashIT {
    private static final Set<String> RESTORING = Set.of("restoring the base backup", "replaying WAL");

    @Test
    void killNineDuringARestoreIsRetriedAfterTheRestartWithoutOrphans() throws Exception {
        Path dataDir = TestKeel.freshDataDir("crash-restore");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        try {
            JsonNode source = keel.api().provision("{\"plan\":\"standard-0\"}");
            String id = source.get("id").asText();
            String checksum;
            try (Connection connection = Pg.connect(source.get("url").asText(), dataDir.resolve("ca.pem"));
                 Statement sql = connection.createStatement()) {
                // Big enough that the restore takes a few seconds: the backup unpacks, then WAL replays.
                sql.execute("create table items as select g as id, md5(g::text) || md5((g * 7)::text) as body"
                        + " from generate_series(1, 1000000) g");
                KeelProcess current = keel;
                Wait.until("the first backup to complete", Timeouts.RESTORE, () -> current.api().get("/v1/databases/" + id + "/backups")
                        .json().findValues("state").stream().anyMatch(s -> s.asText().equals("completed")));
                keel.api().post("/v1/databases/" + id + "/backups", "");
                KeelProcess waiting = keel;
                Wait.until("the manual backup to complete", Timeouts.RESTORE, () -> {
                    JsonNode backups = waiting.api().get("/v1/databases/" + id + "/backups").json();
                    return backups.size() == 2 && backups.findValues("state").stream().allMatch(s -> s.asText().equals("completed"));
                });
                sql.execute("update items set body = upper(body) where id % 3 = 0");
                checksum = Pg.scalar(connection, "select count(*) || ':' || md5(string_agg(body, ',' order by id)) from items");
            }

            Api.Response fork = keel.api().post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}");
            assertThat(fork.status()).as(fork.toString()).isEqualTo(202);
            String copy = fork.field("id");
            String operation = fork.json().get("progress").get("operation_id").asText();
            KeelProcess restoring = keel;
            Wait.until("the restore to be under way", Timeouts.RESTORE, () -> {
                JsonNode progress = restoring.api().get("/v1/databases/" + copy).json().get("progress");
                return progress != null && !progress.isNull() && RESTORING.stream().anyMatch(progress.get("step").asText()::startsWith);
            });
            keel.kill9();

            keel = KeelProcess.start(dataDir, ports, "1", KeelProcess.NO_POOL);
            JsonNode settled = keel.api().awaitSettled(copy);
            assertThat(settled.get("state").asText()).as(settled.toString()).isEqualTo("available");
            assertThat(keel.log()).contains("Reconciler decision: RETRY " + operation + ": retrying provisioning from the start (attempt 2"
                    + " of 3): Keel stopped during step '");
            try (Connection connection = Pg.connect(settled.get("url").asText(), dataDir.resolve("ca.pem"))) {
                assertThat(Pg.scalar(connection, "select count(*) || ':' || md5(string_agg(body, ',' order by id)) from items"))
                        .isEqualTo(checksum);
            }
            assertThat(keel.api().get("/v1/databases/" + id).field("state")).isEqualTo("available");
            Footprint.assertMatchesApi(keel.api(), dataDir);
            keel.api().deprovision(copy);
            keel.api().deprovision(id);
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }
}
