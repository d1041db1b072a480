package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HaDecisions;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.S3Server;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.testing.Footprint.signal;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 15's two scenarios of a standby behind its primary, across hosts (the network-namespace
 * harness: two Keel nodes, the catalog and the object store on two more hosts). The bound a
 * standby may lag and still be failed over to is 4 WAL segments here (64 MiB;
 * KEEL_HA_MAX_LAG_SEGMENTS), so that a few tens of megabytes of rows cross it.
 * <ol>
 *   <li><b>A follower ahead of the new primary.</b> A premium database's primary on node-a, its
 *   standby on node-b, and a follower on node-b. The standby's WAL receiver stops; the primary
 *   writes more than the sockets between the hosts hold (its commit waits out the synchronous
 *   grace, then goes on), and the follower replays all of it. Every process of the primary then
 *   hangs and the standby's receiver goes on: the standby, within the bound, is promoted on
 *   node-b without what the follower has. The follower watch sees the follower diverged and has
 *   it rebuilt from the leader's archive; it then follows the new primary.</li>
 *   <li><b>A standby too far behind is not failed over to.</b> The new standby (on node-a) stops
 *   receiving while the new primary (on node-b) writes past the bound, and then the primary's
 *   postmaster hangs: the decision is {@code refuse}, said as such, and the database's URL keeps
 *   naming the hung primary, which answers again once it resumes.</li>
 * </ol>
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(12)
class LagAcrossHostsIT {
    private static final int MAX_LAG_SEGMENTS = 4;
    private static final long SEGMENT = 16L * 1024 * 1024;

    @Test
    void aFollowerAheadOfTheNewPrimaryIsRebuiltAndAStandbyTooFarBehindIsRefused() throws Exception {
        List<String> observed = new ArrayList<>();
        try (Hosts hosts = Hosts.create("db", "s3", "node-a", "node-b")) {
            Hosts.Host nodeA = hosts.host("node-a");
            Hosts.Host nodeB = hosts.host("node-b");
            try (CatalogServer catalog = CatalogServer.start(hosts.host("db"), TestKeel.freshDataDir("lag-catalog"), hosts.cidr());
                 S3Server s3 = S3Server.start(hosts.host("s3"), TestKeel.freshDataDir("lag-s3"))) {
                Map<String, String> common = NodeWork.sharedEnv(catalog, s3, hosts);
                common.put("KEEL_HA_MAX_LAG_SEGMENTS", Integer.toString(MAX_LAG_SEGMENTS));
                common.put("KEEL_FOLLOWERS_CHECK_INTERVAL", "2s");
                Path dirA = TestKeel.freshDataDir("lag-node-a");
                Path dirB = TestKeel.freshDataDir("lag-node-b");
                TestKeel.Ports portsB = TestKeel.nextPorts();
                KeelProcess a = KeelProcess.start(nodeA.command(KeelProcess.command()), dirA, TestKeel.nextPorts(), "0", NodeWork.nodeEnv(common, nodeA));
                KeelProcess b = null;
                List<String> databases = new ArrayList<>();
                List<Long> stopped = new ArrayList<>();
                String[] teamKey = new String[1];
                try {
                    Files.copy(dirA.resolve("admin-api-key"), dirB.resolve("admin-api-key"));
                    b = KeelProcess.start(nodeB.command(KeelProcess.command()), dirB, portsB, "0", NodeWork.nodeEnv(common, nodeB));
                    Api team = NodeWork.newTeam(a.api(), "lag-across-hosts");
                    teamKey[0] = team.key();
                    Api teamAtB = b.api().withKey(team.key());
                    Path ca = dirA.resolveSibling("lag-client-ca.pem");
                    Files.writeString(ca, a.api().get("/v1/ca.pem").text());

                    JsonNode premium = team.provision("{\"plan\":\"premium-0\"}");
                    String id = premium.get("id").asText();
                    databases.add(id);
                    String dbPath = "/v1/databases/" + id;
                    String url = premium.get("url").asText();
                    assertThat(NodeWork.serverOn(premium, "primary")).isEqualTo("node-a");
                    NodeWork.awaitStandbyOn(team, id, "node-b");
                    Api.Response following = team.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}");
                    assertThat(following.status()).as(following.toString()).isEqualTo(202);
                    String followerId = following.field("id");
                    databases.add(0, followerId); // deleted first: a leader with followers is not deleted
                    JsonNode follower = team.awaitAvailable(followerId, Timeouts.RESTORE);
                    assertThat(NodeWork.serverOn(follower, "primary")).as("a follower prefers a node other than its leader's")
                            .isEqualTo("node-b");
                    String followerUrl = follower.get("url").asText();
                    String followerServer = follower.get("instances").get(0).get("id").asText();
                    // Committed synchronously: the standby has the table.
                    NodeWork.execute(url, ca, "create table filler (n int, body text)");

                    // 1. The standby's receiver stops; the primary writes about 45 MB, which the follower replays.
                    JsonNode view = team.get(dbPath).json();
                    long receiver = walReceiver(NodeWork.dataDir(dirB, serverId(view, "standby")));
                    signal("STOP", receiver);
                    stopped.add(receiver);
                    long grace = System.nanoTime();
                    NodeWork.execute(url, ca, "insert into filler select g, repeat(md5(g::text), 30) from generate_series(1, 40000) g");
                    observed.add("the commit with the standby's receiver stopped was acknowledged after "
                            + Duration.ofNanos(System.nanoTime() - grace).toMillis() + " ms (the synchronous grace)");
                    try (Connection connection = Pg.connect(followerUrl, ca)) {
                        Wait.until("the follower on node-b to have the rows the standby lacks", Timeouts.SWITCHOVER,
                                () -> "40000".equals(quietScalar(connection, "select count(*) from filler")));
                    }
                    Wait.until("the monitor to see the standby more than a segment behind", Timeouts.SWITCHOVER, () -> {
                        long lag = team.get(dbPath + "/ha").json().path("standby_lag_bytes").asLong(0);
                        return lag > SEGMENT && lag < MAX_LAG_SEGMENTS * SEGMENT;
                    });
                    // Every process of the primary hangs, its walsenders too: the standby gets no more than was in flight.
                    String oldPrimary = serverId(view, "primary");
                    long postmaster = postmasterPid(NodeWork.dataDir(dirA, oldPrimary));
                    long hung = System.nanoTime();
                    Instant hungAt = Instant.now();
                    List<Long> primaryProcesses = Footprint.stopServer(postmaster);
                    stopped.addAll(primaryProcesses);
                    signal("CONT", receiver);
                    stopped.remove(Long.valueOf(receiver));
                    String newUrl = Wait.until("the database's URL to name the standby promoted on node-b", Timeouts.SWITCHOVER, () -> {
                        String now = team.get(dbPath).field("url");
                        return now != null && nodeB.address().equals(URI.create(now).getHost()) ? Optional.of(now) : Optional.empty();
                    });
                    observed.add("all of the primary's processes hung on node-a to its standby promoted on node-b: "
                            + Duration.ofNanos(System.nanoTime() - hung).toMillis() + " ms");
                    // Node-a decided; node-b, which hosts the primary now, watches it and tells the same history.
                    JsonNode failedOver = awaitDecision(teamAtB, id, "fail_over", hungAt);
                    assertThat(failedOver.get("sentence").asText())
                            .startsWith("failing over because the primary missed 3 checks and the standby is ");
                    assertThat(team.get(dbPath + "/ha").json().get("decisions")).contains(failedOver);
                    Wait.until("the hung old primary to be killed by its fencing", Timeouts.PROCESS_EXIT,
                            () -> NodeWork.goneOrZombie(postmaster));
                    stopped.removeAll(primaryProcesses);

                    // The follower holds WAL the new primary never had: it is rebuilt from the leader's archive.
                    long diverged = System.nanoTime();
                    String rebuild = Wait.until("the follower watch to rebuild the diverged follower", Timeouts.FOLLOWER_WATCH,
                            () -> firstOperation(catalog, followerId, "rebuild"));
                    JsonNode operation = Wait.until("the follower's rebuild to finish", Timeouts.RESTORE, () -> {
                        JsonNode now = team.get("/v1/operations/" + rebuild).json();
                        return "running".equals(now.get("state").asText()) ? Optional.empty() : Optional.of(now);
                    });
                    assertThat(operation.get("state").asText()).as(operation.toString()).isEqualTo("succeeded");
                    assertThat(operation.get("step").asText()).contains("it diverged from its leader " + premium.get("name").asText()
                            + ": it replayed timeline 1 to ").contains("where the leader's timeline 2 forked from it");
                    JsonNode rebuilt = team.get("/v1/databases/" + followerId).json();
                    assertThat(serverId(rebuilt, "primary")).as("the follower's server was replaced").isNotEqualTo(followerServer);
                    NodeWork.execute(newUrl, ca, "insert into filler values (-1, 'after the failover')");
                    try (Connection connection = Pg.connect(rebuilt.get("url").asText(), ca)) {
                        Wait.until("the rebuilt follower to have the new primary's row", Timeouts.SWITCHOVER,
                                () -> "1".equals(quietScalar(connection, "select count(*) from filler where n = -1")));
                        // What only the old primary had is gone from it: it is the new primary's copy now.
                        assertThat(Pg.scalar(connection, "select count(*) from filler")).isEqualTo("1");
                    }
                    observed.add("the diverged follower (on node " + NodeWork.serverOn(rebuilt, "primary") + ") followed the new primary "
                            + Duration.ofNanos(System.nanoTime() - diverged).toMillis() + " ms after the old primary was fenced");

                    // 2. The new standby, rebuilt on node-a, stops receiving; the primary on node-b writes past the bound.
                    NodeWork.awaitStandbyOn(team, id, "node-a");
                    JsonNode pair = team.get(dbPath).json();
                    long lagging = walReceiver(NodeWork.dataDir(dirA, serverId(pair, "standby")));
                    signal("STOP", lagging);
                    stopped.add(lagging);
                    String before;
                    try (Connection connection = Pg.connect(newUrl, ca)) {
                        before = Pg.scalar(connection, "select count(*) from filler");
                    }
                    NodeWork.execute(newUrl, ca, "insert into filler select g, repeat(md5(g::text), 30) from generate_series(1, 100000) g");
                    Wait.until("the monitor to see the standby more than the bound behind", Timeouts.SWITCHOVER, () -> {
                        long lag = team.get(dbPath + "/ha").json().path("standby_lag_bytes").asLong(0);
                        return lag > MAX_LAG_SEGMENTS * SEGMENT;
                    });
                    long primaryB = postmasterPid(NodeWork.dataDir(dirB, serverId(pair, "primary")));
                    Instant stoppedAt = Instant.now();
                    signal("STOP", primaryB);
                    stopped.add(primaryB);
                    long refusedFrom = System.nanoTime();
                    JsonNode refusal = awaitDecision(team, id, "refuse", stoppedAt);
                    assertThat(teamAtB.get(dbPath + "/ha").json().get("decisions")).contains(refusal);
                    observed.add("the primary on node-b hung with its standby on node-a past the bound: refused after "
                            + Duration.ofNanos(System.nanoTime() - refusedFrom).toMillis() + " ms: " + refusal.get("sentence").asText());
                    assertThat(refusal.get("sentence").asText()).startsWith("not failing over although the primary missed 3 checks")
                            .contains("bytes behind, more than the bound of " + MAX_LAG_SEGMENTS + " WAL segments ("
                                    + MAX_LAG_SEGMENTS * SEGMENT + " bytes)");
                    // Node-b watches its own primary, and says why it stays unavailable.
                    assertThat(teamAtB.get(dbPath + "/info").text()).contains("Unavailable: not failing over although");
                    // Checked a while after the refusal: nothing was promoted meanwhile.
                    Thread.sleep(3000);
                    JsonNode refused = team.get(dbPath).json();
                    assertThat(refused.get("url").asText()).isEqualTo(newUrl);
                    assertThat(serverId(refused, "primary")).isEqualTo(serverId(pair, "primary"));
                    // The primary first, and only once it answers the standby: a standby caught up while the primary still
                    // misses checks is within the bound, and is failed over to (as a clean-clone run did).
                    signal("CONT", primaryB);
                    stopped.remove(Long.valueOf(primaryB));
                    String after = Long.toString(Long.parseLong(before) + 100000);
                    Wait.until("the primary to answer again", Timeouts.SWITCHOVER, () -> {
                        try (Connection connection = Pg.connect(newUrl, ca)) {
                            return after.equals(quietScalar(connection, "select count(*) from filler"));
                        } catch (SQLException e) {
                            return false;
                        }
                    });
                    Wait.until("the monitor to see the primary answer", Timeouts.SWITCHOVER,
                            () -> !teamAtB.get(dbPath + "/ha").field("status").contains("not failing over"));
                    signal("CONT", lagging);
                    stopped.clear();
                    NodeWork.awaitStandbyOn(team, id, "node-a");
                    assertThat(team.get(dbPath).field("url")).as("no failover after the refusal").isEqualTo(newUrl);

                    while (!databases.isEmpty()) {
                        team.deprovision(databases.remove(0));
                    }
                } finally {
                    for (long pid : stopped) {
                        new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
                    }
                    NodeWork.tearDown("LagAcrossHostsIT", observed, databases, teamKey[0], a, b, dirA, dirB);
                }
            }
        }
    }

    /** The id of the database's live server of {@code role} in its view. */
    private static String serverId(JsonNode view, String role) {
        for (JsonNode instance : view.get("instances")) {
            if (role.equals(instance.get("role").asText()) && !List.of("deleting", "fenced").contains(instance.get("state").asText())) {
                return instance.get("id").asText();
            }
        }
        throw new AssertionError("no live " + role + " in " + view);
    }

    private static long postmasterPid(Path data) throws IOException {
        return Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).strip());
    }

    /** The pid of the WAL receiver among the children of the postmaster in {@code data} (its title names it). */
    private static long walReceiver(Path data) throws IOException {
        long postmaster = postmasterPid(data);
        return Wait.until("the WAL receiver of " + data, Timeouts.REQUEST, () -> ProcessHandle.of(postmaster).orElseThrow().children()
                .filter(child -> title(child.pid()).startsWith("postgres: walreceiver")).map(ProcessHandle::pid).findFirst());
    }

    private static String title(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }


    private static JsonNode awaitDecision(Api api, String id, String kind, Instant after) {
        return HaDecisions.await(api, id, kind, after, Timeouts.SWITCHOVER);
    }

    /** The first operation of {@code kind} on the database, from the catalog. */
    private static Optional<String> firstOperation(CatalogServer catalog, String database, String kind) {
        try (Connection connection = catalog.connect();
             PreparedStatement query = connection.prepareStatement("select id from operations where database_id = ? and kind = ?"
                     + " order by created_at limit 1")) {
            query.setObject(1, UUID.fromString(database));
            query.setString(2, kind);
            try (ResultSet rows = query.executeQuery()) {
                return rows.next() ? Optional.of(rows.getString(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            return Optional.empty();
        }
    }

    private static String quietScalar(Connection connection, String sql) {
        try {
            return Pg.scalar(connection, sql);
        } catch (SQLException e) {
            return null;
        }
    }
}
