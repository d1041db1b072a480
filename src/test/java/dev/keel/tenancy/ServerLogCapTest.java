package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.Statement;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A tenant who makes its server log without end ({@code raise log} needs no privilege) does not
 * fill the disk every database shares: past {@code KEEL_INSTANCES_LOG_MAX_MB} the log is emptied
 * and says so, and the server, which writes it in append mode, logs on at its new end.
 */
@ExtendWith(SharedKeel.class)
class ServerLogCapTest {

    @Test
    void aServerLogPastItsCapIsEmptiedAndTheServerLogsOn(TestKeel keel) throws Exception {
        Api team = keel.newTeam("log-cap");
        JsonNode created = team.provision("{\"plan\":\"standard-0\"}");
        String id = created.get("id").asText();
        try (Connection owner = Pg.connect(created.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement()) {
            int megabytes = SharedKeel.LOG_MAX_MB + 4;
            // In 64 KB lines, so that the log's readers (and this test's polls) stay light.
            sql.execute("do $$ begin for i in 1.." + megabytes * 16 + " loop raise log '%', repeat('x', 65536); end loop; end $$");
            String base = "/v1/databases/" + id + "/logs?lines=20";
            JsonNode emptied = Wait.until("the log to be emptied past its cap", Timeouts.REQUEST, () -> {
                Api.Response r = team.get(base);
                return r.status() == 200 && r.text().contains("Keel emptied this log") ? Optional.of(r.json()) : Optional.empty();
            });
            String said = null;
            for (JsonNode line : emptied.get("lines")) {
                said = line.get("message").asText().startsWith("Keel emptied") ? line.get("message").asText() : said;
            }
            assertThat(said).matches("Keel emptied this log: it had reached (\\d+) MB, past the cap of " + SharedKeel.LOG_MAX_MB
                    + " MB \\(KEEL_INSTANCES_LOG_MAX_MB\\)");
            assertThat(Integer.parseInt(said.replaceAll("\\D*(\\d+) MB.*", "$1"))).isBetween(SharedKeel.LOG_MAX_MB, megabytes + 1);

            sql.execute("do $$ begin raise log 'log-cap-after'; end $$");
            Wait.until("the server to log on after the log was emptied", Timeouts.REQUEST, () -> {
                Api.Response r = team.get(base);
                return r.text().contains("log-cap-after") && r.text().contains("Keel emptied this log") ? Optional.of(true) : Optional.empty();
            });
        } finally {
            assertThat(team.delete("/v1/databases/" + id).status()).isEqualTo(202);
        }
    }
}
