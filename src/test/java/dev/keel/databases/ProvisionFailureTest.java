package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A provision that could not finish is refused before anything is made: with no free port, the
 * request is a 503 that says what to do, and no database, instance or directory is left.
 */
class ProvisionFailureTest {
    @Test
    void whenNoPortIsFreeTheProvisionIsRefusedSayingHowToFixItAndNothingIsMade() {
        TestKeel.Ports ports = TestKeel.nextPorts();
        String onePort = ports.instances().split("-")[0];
        try (TestKeel keel = TestKeel.start("provision-failure",
                Map.of("keel.instances.ports", onePort + "-" + onePort, "keel.instances.pool.size", 0))) {
            Api api = keel.api();
            JsonNode first = api.provision("{\"plan\":\"essential-0\"}");
            Api.Response second = api.post("/v1/databases", "{\"plan\":\"essential-0\"}");
            assertThat(second.status()).as(second.toString()).isEqualTo(503);
            assertThat(second.field("type")).isEqualTo("/problems/no-capacity");
            assertThat(second.field("detail")).isEqualTo("No free port is left in the instance port range " + onePort + "-" + onePort
                    + " on 127.0.0.1; widen KEEL_INSTANCES_PORTS or delete unused databases, then try again. Nothing was created.");
            assertThat(api.get("/v1/databases").json()).hasSize(1);
            assertThat(Footprint.instanceDirs(keel.dataDir())).hasSize(1);

            api.deprovision(first.get("id").asText());
            assertThat(Footprint.instanceDirs(keel.dataDir())).isEmpty();
        }
    }
}
