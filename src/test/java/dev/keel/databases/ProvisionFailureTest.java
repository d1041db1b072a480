package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** A provision that cannot finish leaves the database failed with a reason that says what to do, and nothing else. */
class ProvisionFailureTest {
    @Test
    void whenNoPortIsFreeTheDatabaseFailsSayingHowToFixIt() {
        TestKeel.Ports ports = TestKeel.nextPorts();
        String onePort = ports.instances().split("-")[0];
        try (TestKeel keel = TestKeel.start("provision-failure",
                Map.of("keel.instances.ports", onePort + "-" + onePort, "keel.instances.pool.size", 0))) {
            Api api = keel.api();
            JsonNode first = api.provision("{\"plan\":\"essential-0\"}");
            String second = api.post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id");
            JsonNode failed = Wait.until("the second database to fail", Timeouts.PROVISION, () -> {
                JsonNode db = api.get("/v1/databases/" + second).json();
                return "failed".equals(db.get("state").asText()) ? Optional.of(db) : Optional.empty();
            });
            assertThat(failed.get("state_reason").asText()).isEqualTo("No free port is left in the instance port range " + onePort + "-"
                    + onePort + " on 127.0.0.1; widen KEEL_INSTANCES_PORTS or delete unused databases.");
            assertThat(failed.get("state_code").asText()).isEqualTo("no-capacity");
            assertThat(failed.get("state_retryable").asBoolean()).isFalse();
            assertThat(failed.get("url").isNull()).isTrue();
            assertThat(Footprint.instanceDirs(keel.dataDir())).hasSize(1);

            api.deprovision(second);
            api.deprovision(first.get("id").asText());
            assertThat(Footprint.instanceDirs(keel.dataDir())).isEmpty();
        }
    }
}
