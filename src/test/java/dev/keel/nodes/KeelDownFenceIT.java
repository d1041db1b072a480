package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.FailoverWriter;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.S3Server;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fence while a node's Keel is down (issue 15), in the network-namespace harness: a database
 * on a plan whose commits do not wait for the standby (the one a partition can split), its primary
 * on node-a, its standby on node-b. Node-a's Keel is killed ({@code kill -9}), its Postgres left
 * running, so nothing of Keel fences that primary; its fence guard, a process of its own, does.
 * <ol>
 *   <li>While the standby replies, the guard leaves the primary alone: three times T_fence after
 *   the kill, it still runs and the writer is still acknowledged there.</li>
 *   <li>Then node-a's link is cut. The guard kills the primary within T_fence and a round of the
 *   cut, before node-b decides to promote the standby, and the writer resumes there.</li>
 *   <li>Healed, with node-a's Keel started again: the old primary stays down (fenced in the catalog),
 *   and the standby is built on node-a again.</li>
 * </ol>
 */
class KeelDownFenceIT {
    private static final Duration FENCE_AFTER = HostLossIT.FENCE_AFTER;
    private static final Duration FENCED_BY = HostLossIT.FENCED_BY;

    @Test
    void aPartitionWhileANodesKeelIsDownStillFencesItsPrimaryBeforeTheStandbyIsPromoted() throws Exception {
        List<String> observed = new ArrayList<>();
        try (Hosts hosts = Hosts.create("db", "s3", "node-a", "node-b")) {
            Hosts.Host nodeA = hosts.host("node-a");
            Hosts.Host nodeB = hosts.host("node-b");
            try (CatalogServer catalog = CatalogServer.start(hosts.host("db"), TestKeel.freshDataDir("guard-catalog"), hosts.cidr());
                 S3Server s3 = S3Server.start(hosts.host("s3"), TestKeel.freshDataDir("guard-s3"))) {
                Map<String, String> common = new HashMap<>(NodeWork.sharedEnv(catalog, s3, hosts));
                common.put("KEEL_HA_ASYNCHRONOUS_PLANS", "premium-0");
                Path dirA = TestKeel.freshDataDir("guard-node-a");
                Path dirB = TestKeel.freshDataDir("guard-node-b");
                TestKeel.Ports portsA = TestKeel.nextPorts();
                KeelProcess a = KeelProcess.start(nodeA.command(KeelProcess.command()), dirA, portsA, "0", NodeWork.nodeEnv(common, nodeA));
                KeelProcess b = null;
                String id = null;
                String[] teamKey = new String[1];
                try {
                    Files.copy(dirA.resolve("admin-api-key"), dirB.resolve("admin-api-key"));
                    b = KeelProcess.start(nodeB.command(KeelProcess.command()), dirB, TestKeel.nextPorts(), "0", NodeWork.nodeEnv(common, nodeB));
                    Api teamAtA = NodeWork.newTeam(a.api(), "keel-down-fence");
                    teamKey[0] = teamAtA.key();
                    Api teamAtB = b.api().withKey(teamAtA.key());
                    Path ca = dirA.resolveSibling("guard-client-ca.pem");
                    Files.writeString(ca, a.api().get("/v1/ca.pem").text());

                    JsonNode premium = teamAtA.provision("{\"plan\":\"premium-0\"}");
                    id = premium.get("id").asText();
                    String dbPath = "/v1/databases/" + id;
                    assertThat(NodeWork.serverOn(premium, "primary")).isEqualTo("node-a");
                    NodeWork.awaitStandbyOn(teamAtA, id, "node-b");
                    String oldPrimary = premium.get("instances").get(0).get("id").asText();
                    Path oldData = NodeWork.dataDir(dirA, oldPrimary);
                    long postmaster = Long.parseLong(Files.readAllLines(oldData.resolve("postmaster.pid")).get(0).strip());
                    Path guardLog = dirA.resolve("fence-guard").resolve("guard.log");
                    Path watch = dirA.resolve("fence-guard").resolve("watch");
                    Wait.until("node-a's fence guard to watch the primary", Timeouts.HA_STANDBY,
                            () -> readIfThere(guardLog).contains("started") && readIfThere(watch).contains(oldPrimary));

                    try (FailoverWriter writer = FailoverWriter.start(() -> teamAtB.get(dbPath).field("url"), ca)) {
                        writer.awaitAckOn(nodeA.address(), System.nanoTime(), Timeouts.REQUEST);

                        // 1. Node-a's Keel killed, its Postgres left running: the standby still replies, so nothing is fenced.
                        long guardPid = Long.parseLong(readIfThere(dirA.resolve("fence-guard").resolve("guard.pid")).strip());
                        a.kill9();
                        long killed = System.nanoTime();
                        assertThat(ProcessHandle.of(guardPid).map(ProcessHandle::isAlive)).as("the guard outlives Keel").contains(true);
                        Thread.sleep(FENCE_AFTER.multipliedBy(3).toMillis());
                        assertThat(NodeWork.goneOrZombie(postmaster)).as("the primary fenced while its standby replied").isFalse();
                        long ackedSinceKill = writer.acked().values().stream().filter(ack -> ack.at() > killed
                                && ack.host().equals(nodeA.address())).count();
                        observed.add("node-a's Keel killed: " + ackedSinceKill + " writes acknowledged on node-a in the "
                                + FENCE_AFTER.multipliedBy(3).toSeconds() + " s after, the primary untouched");
                        assertThat(ackedSinceKill).isPositive();

                        // 2. The partition, with node-a's Keel down: its guard fences the primary before node-b promotes.
                        Instant cutAt = Instant.now();
                        long cut = System.nanoTime();
                        nodeA.cut();
                        Instant killedAt = NodeWork.awaitGone("node-a's fence guard to fence its primary", postmaster);
                        Duration fenced = Duration.between(cutAt, killedAt);
                        observed.add("partition with node-a's Keel down: its fence guard killed the primary " + fenced.toMillis()
                                + " ms after the cut (T_fence " + FENCE_AFTER.toMillis() + " ms)");
                        assertThat(fenced).isLessThan(FENCED_BY.plusMillis(500));
                        // Left to start only read-only, just after the kill.
                        Wait.until("the guard to leave standby.signal in the old primary", Timeouts.PROCESS_EXIT,
                                () -> Files.exists(oldData.resolve("standby.signal")));
                        Wait.until("the guard to say it fenced", Timeouts.PROCESS_EXIT, () -> readIfThere(guardLog).contains("fenced instance "
                                + oldPrimary));
                        writer.awaitAckOn(nodeB.address(), cut, Timeouts.SWITCHOVER);
                        Duration gap = writer.gap(cut, nodeB.address());
                        observed.add("partition with node-a's Keel down: last write on node-a to first on node-b: " + gap.toMillis() + " ms");
                        assertThat(gap).as("the standby is promoted only once the old primary is surely fenced").isGreaterThan(fenced);
                        JsonNode decision = teamAtB.get(dbPath + "/ha").json().get("decisions").get(0);
                        assertThat(decision.get("sentence").asText()).contains("node node-a, which hosts the primary, has been silent");
                        Instant decided = Instant.parse(teamAtB.get("/v1/operations/" + decision.get("operation_id").asText())
                                .field("created_at"));
                        observed.add("partition with node-a's Keel down: the old primary was gone "
                                + Duration.between(killedAt, decided).toMillis() + " ms before node-b decided to promote");
                        assertThat(killedAt).as("the old primary killed before the promotion").isBefore(decided);
                        long missing = writer.lostFrom(() -> HostLossIT.numbers(teamAtB.get(dbPath).field("url"), ca)).size();
                        observed.add("acknowledged: " + writer.acked().size() + "; missing on the new primary (asynchronous: the"
                                + " standby's lag at the cut): " + missing);

                        // 3. Healed, node-a's Keel started again: the old primary stays down, and the standby comes back to node-a.
                        nodeA.heal();
                        a = KeelProcess.start(nodeA.command(KeelProcess.command()), dirA, portsA, "1", NodeWork.nodeEnv(common, nodeA));
                        NodeWork.awaitStandbyOn(teamAtB, id, "node-a");
                        assertThat(HostLossIT.runningIn(oldData)).as("the old primary runs again").isFalse();
                        observed.add("healed: the old primary stayed down; the standby was rebuilt on node-a");
                    }
                    teamAtB.deprovision(id);
                    id = null;
                } finally {
                    observed.add("fence guard's log:\n" + readIfThere(dirA.resolve("fence-guard").resolve("guard.log")).strip());
                    NodeWork.tearDown("KeelDownFenceIT", observed, id == null ? List.of() : List.of(id), teamKey[0], a, b, dirA, dirB);
                }
            }
        }
    }

    private static String readIfThere(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }
}
