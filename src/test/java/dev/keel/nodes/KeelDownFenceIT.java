package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.FailoverWriter;
import dev.keel.testing.Footprint;
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
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fence while a node's Keel is down (issue 15), in the network-namespace harness: a database
 * on a plan whose commits do not wait for the standby (the one a partition can split), its primary
 * on node-a, its standby on node-b. Node-a's Keel is killed ({@code kill -9}), its Postgres left
 * running, so nothing of Keel fences that primary; its fence guard, a process of its own, does.
 * <ol>
 *   <li>First, with both Keels running, the catalog's host is cut off and the standby's server
 *   hung: the standby no longer replies, but its node vouches that it reaches the primary's port
 *   (and counts its silence from then), so node-a's self-fence leaves the primary serving.</li>
 *   <li>While the standby replies, the guard leaves the primary alone: three times T_fence after
 *   the kill, it still runs and the writer is still acknowledged there.</li>
 *   <li>Then node-a's link is cut. The guard kills the primary within T_fence and a round of the
 *   cut, before node-b decides to promote the standby, and the writer resumes there.</li>
 *   <li>Healed, with node-a's Keel started again: the old primary stays down (fenced in the catalog),
 *   and the standby is built on node-a again.</li>
 *   <li>Last, the roles swapped, the catalog cut off again and a firewall on node-a dropping only
 *   what goes to the new primary's port: node-a's Keel still answers node-b, but cannot reach the
 *   primary, so it does not vouch, and node-b's self-fence kills the primary within T_fence.</li>
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

                        // 0. The catalog's host cut off and the standby's server hung, both Keels running: the standby stops
                        // replying, but its node vouches that it reaches the primary (and so does not promote), and the primary serves
                        // on, where the standby's replies alone would have fenced it.
                        String standby = null;
                        for (JsonNode server : teamAtA.get(dbPath).json().get("instances")) {
                            if ("standby".equals(server.get("role").asText())) {
                                standby = server.get("id").asText();
                            }
                        }
                        long standbyPostmaster = Long.parseLong(Files.readAllLines(NodeWork.dataDir(dirB, standby).resolve("postmaster.pid"))
                                .get(0).strip());
                        Hosts.Host db = hosts.host("db");
                        long outage = System.nanoTime();
                        db.cut();
                        Footprint.stopServer(standbyPostmaster);
                        try {
                            Thread.sleep(FENCE_AFTER.multipliedBy(3).toMillis());
                            assertThat(NodeWork.goneOrZombie(postmaster)).as("the primary fenced while the standby's node vouched").isFalse();
                        } finally {
                            Footprint.resumeServer(standbyPostmaster);
                            db.heal();
                        }
                        long ackedInOutage = writer.acked().values().stream().filter(ack -> ack.at() > outage
                                && ack.host().equals(nodeA.address())).count();
                        observed.add("catalog cut and the standby hung for " + FENCE_AFTER.multipliedBy(3).toSeconds() + " s: "
                                + ackedInOutage + " writes acknowledged on node-a meanwhile, the primary untouched (node-b vouched)");
                        assertThat(ackedInOutage).isPositive();
                        assertThat(a.log()).contains("but node node-b, which hosts the standby, vouches that it reaches the primary");
                        // Node-a reads the catalog again (its HA status through its own API) and its standby streams.
                        NodeWork.awaitStandbyOn(teamAtA, id, "node-b");

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

                    // 4. Roles swapped: the catalog cut off, and node-a reaching node-b but not the primary's port. Node-a does not
                    // vouch (its connection to the port fails inside the request), so node-b's self-fence kills the primary.
                    String newPrimary = null;
                    for (JsonNode server : teamAtB.get(dbPath).json().get("instances")) {
                        if ("primary".equals(server.get("role").asText()) && "node-b".equals(server.get("node").asText())) {
                            newPrimary = server.get("id").asText();
                        }
                    }
                    assertThat(newPrimary).as("the primary on node-b").isNotNull();
                    List<String> pidFile = Files.readAllLines(NodeWork.dataDir(dirB, newPrimary).resolve("postmaster.pid"));
                    long newPostmaster = Long.parseLong(pidFile.get(0).strip());
                    String[] dropToPort = {"OUTPUT", "-d", nodeB.address(), "-p", "tcp", "--dport", pidFile.get(3).strip(), "-j", "DROP"};
                    KeelProcess restarted = a;
                    Wait.until("node-a to watch the primary on node-b from the standby's side", Timeouts.HA_STANDBY,
                            () -> restarted.log().contains("node node-a watches its primary on node node-b from the standby's side"));
                    // Node-b has taken the standby on node-a into its self-fence (its fence guard's watch lists the primary), as it
                    // must have before node-a may fail the primary over from there.
                    String primaryId = newPrimary;
                    Wait.until("node-b's self-fence to cover its primary, whose standby is on node-a", Timeouts.HA_STANDBY,
                            () -> readIfThere(dirB.resolve("fence-guard").resolve("watch")).contains(primaryId));
                    Hosts.Host db = hosts.host("db");
                    // The port dropped first: node-b's first question, once its catalog contact is half T_fence old, finds it so.
                    iptables(nodeA, "-A", dropToPort);
                    Instant firewalledAt = Instant.now();
                    db.cut();
                    try {
                        Instant newKilledAt = NodeWork.awaitGone("node-b's self-fence to kill its primary that node-a cannot reach", newPostmaster);
                        Duration newFenced = Duration.between(firewalledAt, newKilledAt);
                        observed.add("catalog cut and node-a firewalled from the primary's port only: node-b fenced the primary "
                                + newFenced.toMillis() + " ms after");
                        assertThat(newFenced).isLessThan(FENCED_BY.plusMillis(500));
                        // Node-a's refusal, as node-b logged it: its port check's (over the connection node-b keeps open to node-a),
                        // or, on a loaded machine, no answer before the deadline (HaVouchTest has the port check's refusal in-JVM).
                        String log = b.log();
                        assertThat(log).doesNotContain("vouches that it reaches the primary");
                        String said = "the node of its standby does not vouch for the primary (";
                        String first = log.substring(log.indexOf(said) + said.length());
                        assertThat(first).matches(Pattern.compile("(HTTP 409: Node does not vouch for primary " + newPrimary + ": its port did not"
                                + " accept a connection from node node-a within 250 ms\\.|no answer in time)\\).*", Pattern.DOTALL));
                        observed.add("node-b's first refusal from node-a: " + first.substring(0, first.indexOf(')') + 1));
                    } finally {
                        iptables(nodeA, "-D", dropToPort);
                        db.heal();
                    }
                    // Back: node-b's Keel starts its primary again (or node-a failed it over); either way the database takes writes.
                    Wait.until("the database to take writes once the catalog is back", Timeouts.HA_STANDBY, () -> {
                        try {
                            NodeWork.execute(teamAtB.get(dbPath).field("url"), ca, "CREATE TABLE IF NOT EXISTS after_firewall (n int)");
                            return Optional.of(true);
                        } catch (SQLException e) {
                            return Optional.empty();
                        }
                    });
                    teamAtB.deprovision(id);
                    id = null;
                } finally {
                    observed.add("fence guard's log:\n" + readIfThere(dirA.resolve("fence-guard").resolve("guard.log")).strip());
                    NodeWork.tearDown("KeelDownFenceIT", observed, id == null ? List.of() : List.of(id), teamKey[0], a, b, dirA, dirB);
                }
            }
        }
    }

    /** Adds ({@code -A}) or deletes ({@code -D}) a rule of {@code host}'s own firewall. */
    private static void iptables(Hosts.Host host, String action, String... rule) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("iptables", action));
        command.addAll(List.of(rule));
        Process process = host.exec(command.toArray(String[]::new)).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor()).as("iptables " + command + ": " + output).isZero();
    }

    private static String readIfThere(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }
}
