package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.PreviousBuild;
import dev.keel.testing.S3Server;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Three Keel nodes, each a {@code target/keel.jar} process on a host of its own (network namespaces,
 * see {@link Hosts}), sharing a catalog and an S3-compatible store on two more hosts, configured as
 * the README says (the same KEEL_CATALOG_URL, KEEL_S3_* and KEEL_SECRET_KEY; each its own
 * KEEL_NODE_NAME and KEEL_BIND). A database made through a node is hosted there and its URL names
 * that host. The nodes start as a rolling upgrade half done: node-b runs the previous commit's
 * build ({@link PreviousBuild}) on the catalog node-a (this build) migrated, and each serves the
 * other's databases; node-b killed with -9 is shown lost by node-a while its databases keep taking
 * writes, and once it is started again on this build (the upgrade's last step) it reattaches and
 * finishes the provision its older version had in flight when it died. Work asked of one node for
 * the other's database is then done by the other. A
 * premium database's standby is built on the other host, and a hung primary is failed over to it,
 * its pool moving with it. The third, node-c (this build), is drained as it starts: a provision
 * asked of it lands on another node, whose address its URL names; it shows node-b lost and answers
 * for its database while node-b is down; and nothing is placed on it throughout.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(9)
class NodesAcrossHostsIT {

    @Test
    void nodesOnThreeHostsShareTheWorkAndANodeKilledMidProvisionFinishesItWhenItReturns() throws Exception {
        List<String> observed = new ArrayList<>();
        // The older version (the commit before this one) builds while the hosts, the catalog, the store and node-a start.
        long building = System.nanoTime();
        try (PreviousBuild previous = PreviousBuild.begin(); Hosts hosts = Hosts.create("db", "s3", "node-a", "node-b", "node-c")) {
            Hosts.Host nodeA = hosts.host("node-a");
            Hosts.Host nodeB = hosts.host("node-b");
            Hosts.Host nodeC = hosts.host("node-c");
            try (CatalogServer catalog = CatalogServer.start(hosts.host("db"), TestKeel.freshDataDir("hosts-catalog"), hosts.cidr());
                 S3Server s3 = S3Server.start(hosts.host("s3"), TestKeel.freshDataDir("hosts-s3"))) {
                Map<String, String> common = NodeWork.sharedEnv(catalog, s3, hosts);
                Path dirA = TestKeel.freshDataDir("hosts-node-a");
                Path dirB = TestKeel.freshDataDir("hosts-node-b");
                Path dirC = TestKeel.freshDataDir("hosts-node-c");
                Map<String, String> envA = NodeWork.nodeEnv(common, nodeA);
                Map<String, String> envB = NodeWork.nodeEnv(common, nodeB);
                TestKeel.Ports portsB = TestKeel.nextPorts();
                KeelProcess a = KeelProcess.start(nodeA.command(KeelProcess.command()), dirA, TestKeel.nextPorts(), "0", envA);
                KeelProcess b = null;
                KeelProcess c = null;
                List<String> databases = new ArrayList<>();
                String[] teamKey = new String[1];
                try {
                    // A rolling upgrade half done: node-a runs this version, and migrated the catalog; node-b still runs the
                    // previous commit's. The first node made the admin key; the others are given it, as an operator copies it.
                    Files.copy(dirA.resolve("admin-api-key"), dirB.resolve("admin-api-key"));
                    Files.copy(dirA.resolve("admin-api-key"), dirC.resolve("admin-api-key"));
                    Path older = previous.jar();
                    observed.add("the previous commit's keel.jar was ready " + Duration.ofNanos(System.nanoTime() - building).toMillis()
                            + " ms after the test began (built beside the hosts' start unless an earlier run had built it)");
                    int oldestCompatible = oldestCompatible(catalog);
                    boolean mixed = oldestCompatible <= previous.newestMigration();
                    if (mixed) {
                        b = KeelProcess.start(nodeB.command(KeelProcess.command(older)), dirB, portsB, "0", envB);
                    } else {
                        // This commit's migrations shut older nodes out (README, "Nodes and upgrading Keel"): the older node
                        // must refuse to start, saying so; the rest runs on this version alone.
                        assertThatThrownBy(() -> KeelProcess.start(nodeB.command(KeelProcess.command(older)), dirB, portsB, "older", envB))
                                .hasMessageContaining("cannot start: the catalog was migrated to V");
                        observed.add("this commit raised catalog_compatibility.oldest_compatible to " + oldestCompatible
                                + ", beyond the previous commit's V" + previous.newestMigration() + ": its node refused to start");
                        b = KeelProcess.start(nodeB.command(KeelProcess.command()), dirB, portsB, "0", envB);
                    }
                    Map<String, String> versions = NodeWork.versions(a.api());
                    assertThat(versions).containsKeys("node-a", "node-b");
                    assertThat(versions.get("node-a").equals(versions.get("node-b"))).as(versions.toString()).isEqualTo(!mixed);
                    observed.add("the nodes' versions on one catalog: " + versions);
                    // A third node, on this version, drained as it starts, before any database exists (started later, it could
                    // take a WAL receiver for a moment): it serves the whole API, and nothing lands on it.
                    c = KeelProcess.start(nodeC.command(KeelProcess.command()), dirC, TestKeel.nextPorts(), "0",
                            NodeWork.nodeEnv(common, nodeC));
                    assertThat(a.api().post("/v1/nodes/node-c/drain", "").status()).isEqualTo(200);
                    Api teamAtA = NodeWork.newTeam(a.api(), "across-hosts");
                    teamKey[0] = teamAtA.key();
                    Api teamAtB = b.api().withKey(teamAtA.key());
                    Api teamAtC = c.api().withKey(teamAtA.key());
                    Path ca = dirA.resolveSibling("hosts-client-ca.pem");
                    Files.writeString(ca, a.api().get("/v1/ca.pem").text());

                    JsonNode onA = teamAtA.provision("{\"plan\":\"essential-0\"}");
                    databases.add(onA.get("id").asText());
                    JsonNode onB = teamAtB.provision("{\"plan\":\"essential-0\"}");
                    String idA = onA.get("id").asText();
                    String idB = onB.get("id").asText();
                    databases.add(idB);
                    assertThat(URI.create(onA.get("url").asText()).getHost()).isEqualTo(nodeA.address());
                    assertThat(URI.create(onB.get("url").asText()).getHost()).isEqualTo(nodeB.address());
                    assertThat(onA.get("instances").get(0).get("node").asText()).isEqualTo("node-a");
                    assertThat(onB.get("instances").get(0).get("node").asText()).isEqualTo("node-b");
                    // node-b lists all three as node-a set them.
                    for (JsonNode node : b.api().get("/v1/nodes").json()) {
                        assertThat(node.get("state").asText()).as(node.toString())
                                .isEqualTo(node.get("name").asText().equals("node-c") ? "draining" : "active");
                    }
                    // Each version serves the other's database, and carries out work the other recorded for it: a backup of
                    // B's database asked of A is taken by B, and one of A's asked of B by A.
                    assertThat(teamAtB.get("/v1/databases/" + idA).field("state")).isEqualTo("available");
                    assertThat(teamAtA.get("/v1/databases/" + idB).field("state")).isEqualTo("available");
                    String backupOfB = NodeWork.askBackup(teamAtA, idB);
                    String backupOfA = NodeWork.askBackup(teamAtB, idA);
                    NodeWork.awaitSucceeded(teamAtA, backupOfB);
                    NodeWork.awaitSucceeded(teamAtB, backupOfA);
                    assertThat(teamAtB.get("/v1/operations/" + backupOfB).json().get("node").asText()).isEqualTo("node-b");
                    assertThat(teamAtA.get("/v1/operations/" + backupOfA).json().get("node").asText()).isEqualTo("node-a");
                    assertThat(b.log()).contains(backupOfB);
                    assertThat(a.log()).contains(backupOfA);
                    String urlB = onB.get("url").asText();
                    NodeWork.execute(urlB, ca, "create table kept (note text); insert into kept values ('before node-b died')");
                    // A provision asked of the drained node-c lands on the node placement chooses, which its URL names.
                    JsonNode throughC = teamAtC.provision("{\"plan\":\"essential-0\"}");
                    databases.add(throughC.get("id").asText());
                    String placed = throughC.get("instances").get(0).get("node").asText();
                    assertThat(placed).isIn("node-a", "node-b");
                    assertThat(URI.create(throughC.get("url").asText()).getHost()).isEqualTo(hosts.host(placed).address());
                    observed.add("a provision asked of the drained node-c was placed on " + placed);

                    // A provision asked of the older node-b is in flight when its Keel is killed with -9.
                    String inFlight = teamAtB.post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id");
                    databases.add(inFlight);
                    Wait.until("the provision on node-b to reserve its server", Timeouts.PROVISION,
                            () -> teamAtB.get("/v1/databases/" + inFlight).json().path("instances").size() > 0);
                    b.kill9();
                    long killed = System.nanoTime();
                    Wait.until("node-a to show node-b lost", Timeouts.NODE_HEARTBEAT, () -> "lost".equals(NodeWork.state(a.api(), "node-b")));
                    long lostMillis = Duration.ofNanos(System.nanoTime() - killed).toMillis();
                    observed.add("node-b shown lost by node-a " + lostMillis + " ms after its kill -9 (KEEL_NODE_LOST_AFTER 5s)");
                    assertThat(lostMillis).isLessThan(Timeouts.NODE_HEARTBEAT.toMillis());

                    // Its database keeps taking writes, and node-a and node-c keep answering for it.
                    NodeWork.execute(urlB, ca, "insert into kept values ('while node-b was lost')");
                    assertThat(teamAtA.get("/v1/databases/" + idB).field("state")).isEqualTo("available");
                    KeelProcess third = c;
                    Wait.until("node-c to show node-b lost", Timeouts.NODE_HEARTBEAT, () -> "lost".equals(NodeWork.state(third.api(), "node-b")));
                    assertThat(teamAtC.get("/v1/databases/" + idB).field("state")).isEqualTo("available");
                    assertThat(teamAtA.get("/v1/databases/" + inFlight).field("state")).isEqualTo("creating");

                    // node-b returns upgraded (this version, the upgrade's last step): it reattaches to its server and finishes
                    // the provision the older version was making.
                    long restarted = System.nanoTime();
                    b = KeelProcess.start(nodeB.command(KeelProcess.command()), dirB, portsB, "1", envB);
                    Api teamAtBAgain = b.api().withKey(teamAtA.key());
                    JsonNode finished = teamAtA.awaitAvailable(inFlight);
                    observed.add("the provision in flight at the kill was available " + Duration.ofNanos(System.nanoTime() - restarted).toMillis()
                            + " ms after node-b's restart on the newer version began");
                    assertThat(finished.get("instances").get(0).get("node").asText()).isEqualTo("node-b");
                    assertThat(URI.create(finished.get("url").asText()).getHost()).isEqualTo(nodeB.address());
                    assertThat(NodeWork.state(a.api(), "node-b")).isEqualTo("active");
                    assertThat(NodeWork.versions(a.api()).get("node-b")).isEqualTo(versions.get("node-a"));
                    try (Connection connection = Pg.connect(urlB, ca)) {
                        assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("2");
                    }
                    assertThat(teamAtBAgain.get("/v1/databases/" + idA).field("state")).isEqualTo("available");

                    // The link between the nodes' hosts alone cut (both still reach the catalog and the store): each node's WAL
                    // receiver of the other's primary gives it up, and the primary's own node receives, until the link is back.
                    NodeWork.awaitReceiverOn(teamAtA, idA, "node-b", null);
                    long cut = System.nanoTime();
                    try {
                        nodeA.cutFrom(nodeB);
                        String written;
                        try (Connection connection = Pg.connect(onA.get("url").asText(), ca); Statement sql = connection.createStatement()) {
                            sql.execute("create table streamed (n int); insert into streamed values (1)");
                            written = Pg.scalar(connection, "select pg_current_wal_lsn()");
                        }
                        NodeWork.awaitReceiverOn(teamAtA, idA, "node-a", written);
                        observed.add("the link between the nodes' hosts cut: node-a received its own primary's WAL "
                                + Duration.ofNanos(System.nanoTime() - cut).toMillis() + " ms later (silence checked after 5 s, give-up"
                                + " after 10 s)");
                        assertThat(b.log()).contains("the WAL receiver goes to another node until this one reaches it again");
                    } finally {
                        nodeA.healFrom(nodeB);
                    }
                    long healed = System.nanoTime();
                    NodeWork.awaitReceiverOn(teamAtA, idA, "node-b", null);
                    observed.add("the link back: node-b received node-a's primary's WAL again "
                            + Duration.ofNanos(System.nanoTime() - healed).toMillis() + " ms later");

                    // A new password for B's database, asked of A: A's Keel logs in to B's server from the nodes' network.
                    Api.Response rotated = teamAtA.post("/v1/databases/" + idB + "/credentials/default/rotate", "{}");
                    assertThat(rotated.status()).as(rotated.toString()).isEqualTo(200);
                    String rotatedUrl = teamAtA.get("/v1/databases/" + idB).field("url");
                    assertThat(rotatedUrl).isNotEqualTo(urlB);
                    assertThat(URI.create(rotatedUrl).getHost()).as("the URL node-a gives names node-b's host").isEqualTo(nodeB.address());
                    try (Connection connection = Pg.connect(rotatedUrl, ca)) {
                        assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("2");
                    }

                    // A premium database made through A: its standby is built on B's host and streams across the hosts' network.
                    // Its primary's postmaster hung (SIGSTOP): node-a's monitor fences it and promotes the standby on node-b over
                    // the network; the URL then names node-b's host, and what was committed before is there.
                    JsonNode premium = teamAtA.provision("{\"plan\":\"premium-0\"}");
                    String premiumId = premium.get("id").asText();
                    databases.add(premiumId);
                    assertThat(NodeWork.serverOn(premium, "primary")).isEqualTo("node-a");
                    NodeWork.awaitStandbyOn(teamAtA, premiumId, "node-b");
                    NodeWork.execute(premium.get("url").asText(), ca, "create table committed (n int); insert into committed select generate_series(1, 1000)");
                    // Its pool, attached through B, runs on A's host beside the primary (verify-full TLS to A's address).
                    assertThat(teamAtBAgain.post("/v1/apps", "{\"name\":\"hosts-web\"}").status()).isEqualTo(201);
                    Api.Response attached = teamAtBAgain.post("/v1/apps/hosts-web/attachments", "{\"database\":\"" + premiumId
                            + "\",\"pooled\":true}");
                    assertThat(attached.status()).as(attached.toString()).isEqualTo(201);
                    String pooledAtA = pooledUrl(teamAtA);
                    assertThat(URI.create(pooledAtA).getHost()).isEqualTo(nodeA.address());
                    try (Connection pooled = Pg.connectPooled(pooledAtA, ca)) {
                        assertThat(Pg.scalar(pooled, "select count(*) from committed")).isEqualTo("1000");
                    }
                    String primaryId = premium.get("instances").get(0).get("id").asText();
                    long postmaster = Long.parseLong(Files.readAllLines(dirA.resolve("servers").resolve("instances").resolve(primaryId)
                            .resolve("data").resolve("postmaster.pid")).get(0).strip());
                    assertThat(new ProcessBuilder("kill", "-STOP", Long.toString(postmaster)).inheritIO().start().waitFor()).isZero();
                    long hung = System.nanoTime();
                    String promoted = Wait.until("a write on the standby promoted on node-b", Timeouts.SWITCHOVER, () -> {
                        String url = teamAtBAgain.get("/v1/databases/" + premiumId).field("url");
                        if (url == null || !nodeB.address().equals(URI.create(url).getHost())) {
                            return Optional.<String>empty();
                        }
                        try {
                            NodeWork.execute(url, ca, "insert into committed values (1001)");
                            return Optional.of(url);
                        } catch (Exception e) {
                            return Optional.<String>empty();
                        }
                    });
                    observed.add("SIGSTOP of the primary's postmaster on node-a to the first write on the standby promoted on node-b: "
                            + Duration.ofNanos(System.nanoTime() - hung).toMillis() + " ms (check interval 1 s, 3 misses)");
                    try (Connection connection = Pg.connect(promoted, ca)) {
                        assertThat(Pg.scalar(connection, "select count(*) from committed")).isEqualTo("1001");
                    }
                    JsonNode failedOver = teamAtA.get("/v1/databases/" + premiumId).json();
                    assertThat(NodeWork.serverOn(failedOver, "primary")).as(failedOver.toString()).isEqualTo("node-b");
                    Wait.until("the hung old primary to be killed by its fencing", Timeouts.PROCESS_EXIT,
                            () -> NodeWork.goneOrZombie(postmaster));
                    // The pool moved with the primary: node-b runs it on its own host, and it reaches the new primary.
                    String pooledAtB = Wait.until("the pool to move to node-b's host", Timeouts.POOL_FOLLOW, () -> {
                        String url = pooledUrl(teamAtA);
                        if (!nodeB.address().equals(URI.create(url).getHost())) {
                            return Optional.<String>empty();
                        }
                        try (Connection pooled = Pg.connectPooled(url, ca)) {
                            return "1001".equals(Pg.scalar(pooled, "select count(*) from committed")) ? Optional.of(url) : Optional.<String>empty();
                        } catch (SQLException e) {
                            return Optional.<String>empty();
                        }
                    });
                    observed.add("the pool answered on node-b's host at " + URI.create(pooledAtB).getPort() + " after the failover");

                    // Nothing landed on the drained node-c, through all of the above: no server now, no operation ever carried
                    // out there (provisions, standby builds, take-overs), no WAL receiver.
                    JsonNode rowOfC = null;
                    for (JsonNode node : a.api().get("/v1/nodes").json()) {
                        if (node.get("name").asText().equals("node-c")) {
                            rowOfC = node;
                        }
                    }
                    assertThat(rowOfC).isNotNull();
                    assertThat(rowOfC.get("state").asText()).isEqualTo("draining");
                    assertThat(rowOfC.get("instances")).as(rowOfC.toString()).isEmpty();
                    try (Connection connection = catalog.connect()) {
                        assertThat(Pg.scalar(connection, "select count(*) from operations where node = 'node-c'")).isEqualTo("0");
                    }
                    assertThat(c.log()).doesNotContain("Receiving the WAL of instance");

                    // Every database deleted through node-a: node-b deletes its own.
                    for (String id : List.copyOf(databases)) {
                        teamAtA.deprovision(id);
                        databases.remove(id);
                    }
                    assertThat(b.log()).contains("Operation deprovision succeeded database=" + idB);
                } finally {
                    try {
                        NodeWork.tearDown("NodesAcrossHostsIT", observed, databases, teamKey[0], a, b, dirA, dirB);
                    } finally {
                        try {
                            if (c != null) {
                                c.stop();
                            }
                            Keel.stopServers(dirC);
                        } catch (RuntimeException | AssertionError e) {
                            System.out.println("NodesAcrossHostsIT could not stop node-c: " + e);
                        }
                    }
                }
            }
        }
    }

    /** The catalog's {@code catalog_compatibility.oldest_compatible}: the oldest migration a node may know and still join. */
    private static int oldestCompatible(CatalogServer catalog) throws SQLException {
        try (Connection connection = catalog.connect(); Statement sql = connection.createStatement();
             ResultSet row = sql.executeQuery("select oldest_compatible from catalog_compatibility")) {
            assertThat(row.next()).isTrue();
            return row.getInt(1);
        }
    }

    private static String pooledUrl(Api team) {
        return team.get("/v1/apps/hosts-web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
    }
}
