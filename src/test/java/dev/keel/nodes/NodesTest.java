package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.StartupException;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.context.ApplicationContext;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;

import static dev.keel.catalog.schema.Tables.NODES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The node registry on the shared Keel: the node registers and heartbeats, {@code GET /v1/nodes}
 * shows it with its instances to the admin key only, a database's instances name their node, a
 * row without a heartbeat is {@code lost}, and a start under the name of the running node (or
 * beside it) is refused without changing the registry. Draining is in {@link NodeDrainTest}, on a
 * Keel of its own, because it refuses every provision of the node it drains.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class NodesTest {

    @Test
    void theNodeRegistersHeartbeatsAndListsItsInstances(TestKeel keel) {
        ThisNode node = keel.bean(ThisNode.class);
        JsonNode first = nodeNamed(keel.api(), node.name());
        assertThat(first.get("state").asText()).isEqualTo("active");
        assertThat(first.get("address").asText()).isEqualTo(keel.api().baseUrl());
        assertThat(first.get("version").asText()).isEqualTo(node.version()).isNotEqualTo("unknown");
        assertThat(first.get("capacity").get("ports").get("range").asText()).isEqualTo(node.ports().toString());
        assertThat(first.get("capacity").get("ports").get("total").asInt()).isEqualTo(node.ports().size());
        assertThat(first.get("capacity").get("memory_budget_mb").asLong()).as("no memory budget by default").isZero();
        assertThat(first.get("capacity").get("disk_budget_mb").asLong()).isPositive();
        assertThat(first.get("capacity").get("memory_reserved_mb").asLong()).isNotNegative();
        ThisNode.Disk disk = node.disk().orElseThrow();
        Wait.until("node " + node.name() + "'s heartbeat to record its disk", Timeouts.NODE_HEARTBEAT,
                () -> nodeNamed(keel.api(), node.name()).get("capacity").hasNonNull("disk_free_mb"));
        JsonNode capacity = nodeNamed(keel.api(), node.name()).get("capacity");
        assertThat(capacity.get("disk_free_mb").asLong()).isPositive().isCloseTo(disk.freeMb(), org.assertj.core.data.Percentage.withPercentage(10));
        assertThat(capacity.get("disk_used_mb").asLong()).isPositive().isLessThanOrEqualTo(capacity.get("disk_budget_mb").asLong());
        OffsetDateTime heartbeat = OffsetDateTime.parse(first.get("last_heartbeat").asText());
        Wait.until("node " + node.name() + "'s heartbeat to advance", Timeouts.NODE_HEARTBEAT,
                () -> OffsetDateTime.parse(nodeNamed(keel.api(), node.name()).get("last_heartbeat").asText()).isAfter(heartbeat));

        Api team = keel.newTeam("nodes-listing");
        JsonNode database = team.provision("{\"plan\":\"essential-0\"}");
        String id = database.get("id").asText();
        try {
            JsonNode instances = database.get("instances");
            assertThat(instances).hasSize(1);
            assertThat(instances.get(0).get("node").asText()).isEqualTo(node.name());
            assertThat(instances.get(0).get("role").asText()).isEqualTo("primary");
            String instance = instances.get(0).get("id").asText();

            JsonNode listed = nodeNamed(keel.api(), node.name());
            JsonNode hosted = null;
            for (JsonNode i : listed.get("instances")) {
                if (i.get("id").asText().equals(instance)) {
                    hosted = i;
                }
            }
            assertThat(hosted).as("instance " + instance + " in " + listed).isNotNull();
            assertThat(hosted.get("database_id").asText()).isEqualTo(id);
            assertThat(hosted.get("database").asText()).isEqualTo(database.get("name").asText());
            assertThat(hosted.get("role").asText()).isEqualTo("primary");
            assertThat(listed.get("capacity").get("memory_reserved_mb").asLong()).as("the essential database's server counts")
                    .isGreaterThanOrEqualTo(keel.bean(PlanFootprint.class).memoryMb("essential-0"));
            assertThat(listed.get("capacity").get("ports").get("free").asInt())
                    .isEqualTo(node.ports().size() - listed.get("instances").size());
        } finally {
            team.deprovision(id);
        }
    }

    @Test
    void onlyTheAdminKeySeesOrSteersNodes(TestKeel keel) {
        Api team = keel.newTeam("nodes-not-admin");
        String name = keel.bean(ThisNode.class).name();
        String detail = "Only the installation's admin API key can see and steer nodes.";
        assertProblem(team.get("/v1/nodes"), 403, "/problems/forbidden", detail);
        assertProblem(team.post("/v1/nodes/" + name + "/drain", ""), 403, "/problems/forbidden", detail);
        assertProblem(team.post("/v1/nodes/no-such-node/drain", ""), 403, "/problems/forbidden", detail);
        assertProblem(team.post("/v1/nodes/" + name + "/activate", ""), 403, "/problems/forbidden", detail);
        assertThat(nodeNamed(keel.api(), name).get("state").asText()).isEqualTo("active");
    }

    @Test
    void anUnknownNodeIsNotFound(TestKeel keel) {
        assertProblem(keel.api().post("/v1/nodes/no-such-node/drain", ""), 404, "/problems/not-found", "node no-such-node not found");
        assertProblem(keel.api().post("/v1/nodes/no-such-node/activate", ""), 404, "/problems/not-found", "node no-such-node not found");
    }

    @Test
    void aNodeWithoutAHeartbeatForLostAfterIsLost(TestKeel keel) {
        DSLContext catalog = keel.bean(DSLContext.class);
        String stale = "stale-" + System.nanoTime();
        catalog.insertInto(NODES).set(NODES.NAME, stale).set(NODES.VERSION, "0.0.9").set(NODES.API_URL, "https://stale.example:5480")
                .set(NODES.STARTED_AT, OffsetDateTime.now().minusHours(2)).set(NODES.HEARTBEAT_AT, OffsetDateTime.now().minusHours(1))
                .set(NODES.PORT_FIRST, 25000).set(NODES.PORT_LAST, 25999).set(NODES.MEMORY_BUDGET_MB, 4096L).set(NODES.DISK_BUDGET_MB, 10240L)
                .execute();
        try {
            JsonNode node = nodeNamed(keel.api(), stale);
            assertThat(node.get("state").asText()).isEqualTo("lost");
            assertThat(node.get("address").asText()).isEqualTo("https://stale.example:5480");
            assertThat(node.get("heartbeat_age_seconds").asLong()).isGreaterThanOrEqualTo(3590);
            assertThat(node.get("capacity").get("ports").get("free").asInt()).isEqualTo(1000);
            assertThat(node.get("instances")).isEmpty();
            Wait.until("keel_nodes{state=\"lost\"} to count the stale node", Timeouts.NODE_HEARTBEAT,
                    () -> gauge(keel, "lost") >= 1);
            assertThat(nodeNamed(keel.api(), keel.bean(ThisNode.class).name()).get("state").asText()).isEqualTo("active");
        } finally {
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(stale)).execute();
        }
    }

    @Test
    void aStartUnderTheRunningNodesNameOrBesideItIsRefusedAndChangesNothing(TestKeel keel) throws IOException {
        String running = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        List<String> before = catalog.select(NODES.NAME).from(NODES).orderBy(NODES.NAME).fetch(NODES.NAME);
        String url = catalogUrl(keel);
        String where = "external 127.0.0.1:" + catalogProperties(keel).getProperty("port") + "/keel";

        StartupException twin = refusedStart(url, running);
        assertThat(twin).isNotNull();
        assertThat(twin.getMessage()).matches(Pattern.quote("a Keel node named " + running + " is already running on this catalog (" + where
                + "), its last heartbeat ") + "\\d+" + Pattern.quote(" s ago; give this node its own KEEL_NODE_NAME, or stop the other one first."));

        StartupException beside = refusedStart(url, "second-node");
        assertThat(beside).isNotNull();
        assertThat(beside.getMessage()).matches(Pattern.quote("another Keel node is running on this catalog (" + where + "): node " + running
                + " at " + keel.api().baseUrl() + ", its last heartbeat ") + "\\d+" + Pattern.quote(" s ago; its catalog is embedded in that"
                + " node's data directory and cannot be joined: to run several nodes, configure KEEL_CATALOG_URL to an external Postgres,"
                + " and KEEL_S3_* and KEEL_SECRET_KEY, on every node."));

        assertThat(catalog.select(NODES.NAME).from(NODES).orderBy(NODES.NAME).fetch(NODES.NAME)).isEqualTo(before);
        assertThat(nodeNamed(keel.api(), running).get("state").asText()).isEqualTo("active");
    }

    /** Starts a Keel on the shared Keel's catalog as an external one, under node {@code name}; the refusal, or null if it started. */
    private static StartupException refusedStart(String catalogUrl, String name) {
        Path dataDir = TestKeel.freshDataDir("nodes-second");
        TestKeel.Ports ports = TestKeel.nextPorts();
        Map<String, Object> properties = new HashMap<>();
        properties.put("keel.data-dir", dataDir.toString());
        properties.put("micronaut.server.port", -1);
        properties.put("keel.postgres.install-dir", TestKeel.sharedInstallDir().toString());
        properties.put("keel.catalog.url", catalogUrl);
        properties.put("keel.catalog.node-lock-wait", "1s");
        properties.put("keel.node.name", name);
        properties.put("keel.instances.ports", ports.instances());
        properties.put("keel.s3.embedded-ports", ports.s3());
        properties.put("keel.pooling.ports", ports.poolers());
        properties.put("keel.backups.download-port", 0);
        ApplicationContext other = ApplicationContext.builder().properties(properties).deduceEnvironment(false).build();
        try {
            return Keel.startupCause(catchThrowable(other::start));
        } finally {
            other.close();
            Keel.stopServers(dataDir);
        }
    }

    private static Properties catalogProperties(TestKeel keel) throws IOException {
        Properties catalog = new Properties();
        catalog.load(new StringReader(Files.readString(keel.dataDir().resolve("catalog.properties"))));
        return catalog;
    }

    private static String catalogUrl(TestKeel keel) throws IOException {
        Properties catalog = catalogProperties(keel);
        return "postgres://keel:" + catalog.getProperty("password") + "@127.0.0.1:" + catalog.getProperty("port") + "/keel";
    }

    static JsonNode nodeNamed(Api admin, String name) {
        Api.Response listed = admin.get("/v1/nodes");
        assertThat(listed.status()).as(listed.toString()).isEqualTo(200);
        for (JsonNode node : listed.json()) {
            if (node.get("name").asText().equals(name)) {
                return node;
            }
        }
        throw new AssertionError("no node " + name + " in " + listed);
    }

    static void assertProblem(Api.Response response, int status, String type, String detail) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.field("type")).isEqualTo(type);
        assertThat(response.field("detail")).isEqualTo(detail);
    }

    /** The value of {@code keel_nodes{state}} in the scrape, or -1 without it. */
    private static double gauge(TestKeel keel, String state) {
        String prefix = "keel_nodes{state=\"" + state + "\"} ";
        return keel.api().withKey(null).get("/metrics").text().lines().filter(l -> l.startsWith(prefix)).findFirst()
                .map(l -> Double.parseDouble(l.substring(prefix.length()).strip())).or(() -> Optional.of(-1.0)).get();
    }
}
