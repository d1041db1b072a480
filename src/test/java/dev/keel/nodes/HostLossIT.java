package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.FailoverWriter;
import dev.keel.testing.Pg;
import dev.keel.testing.S3Server;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * High availability across hosts (issue 15), in the network-namespace harness: two Keel nodes on
 * two hosts, the catalog and the object store on two more. A premium database's primary on
 * node-a streams synchronously to its standby on node-b while a writer inserts a numbered row
 * every 10 ms through the database's URL, and a second writer on node-a's own host writes to the
 * primary beside it.
 * <ol>
 *   <li>The catalog's host cut off for 15 s (two minutes in the bench): the standby still replies, so nothing is fenced, and
 *   writes go on being acknowledged throughout.</li>
 *   <li>A partition: node-a's link cut, its processes alive. Node-a, reaching neither the catalog
 *   nor the standby, kills its primary within T_fence; node-b promotes the standby only after
 *   that, and the writer resumes there. Every number either writer had acknowledged is on the
 *   new primary. Healed, the old primary stays down, and the standby moves to node-a.</li>
 *   <li>A host lost: every process of node-b's host killed (its Keel and the new primary) and its
 *   link cut. Node-a promotes the standby, and every acknowledged number is there. A standard
 *   database (no standby) lost with the same host, whose WAL receiver ran on node-a (issue 16):
 *   once node-b is forgotten, its primary is made anew on node-a from its archive, under its own
 *   credentials, with every write acknowledged over 250 ms before the loss (a receiver on the lost
 *   host could lose a second).</li>
 * </ol>
 */
class HostLossIT {
    /** KEEL_HA_FENCE_AFTER as configured (the default), and the bound after which the standby's node promotes. */
    static final Duration FENCE_AFTER = Duration.ofSeconds(2);
    static final Duration FENCED_BY = FENCE_AFTER.plus(FENCE_AFTER.dividedBy(8)).plusMillis(500);
    /**
     * Longer than the catalog pool's wait for a connection (10 s), after which the monitor's failsafe takes over; 15 s in
     * the suite, 120 s (the two minutes) in ops/bench/host-loss.sh ({@code keel.test.catalog-outage-seconds}).
     */
    private static final Duration CATALOG_OUTAGE = Duration.ofSeconds(Long.getLong("keel.test.catalog-outage-seconds", 15));

    @Test
    void aPartitionedPrimaryFencesItselfAndAHostLostFailsOverWithNoAcknowledgedWriteLost() throws Exception {
        List<String> observed = new ArrayList<>();
        try (Hosts hosts = Hosts.create("db", "s3", "node-a", "node-b")) {
            Hosts.Host nodeA = hosts.host("node-a");
            Hosts.Host nodeB = hosts.host("node-b");
            try (CatalogServer catalog = CatalogServer.start(hosts.host("db"), TestKeel.freshDataDir("loss-catalog"), hosts.cidr());
                 S3Server s3 = S3Server.start(hosts.host("s3"), TestKeel.freshDataDir("loss-s3"))) {
                Map<String, String> common = new HashMap<>(NodeWork.sharedEnv(catalog, s3, hosts));
                common.put("KEEL_FOLLOWERS_CHECK_INTERVAL", "3s"); // a follower whose node is lost is seen within 3 s of it
                Path dirA = TestKeel.freshDataDir("loss-node-a");
                Path dirB = TestKeel.freshDataDir("loss-node-b");
                TestKeel.Ports portsB = TestKeel.nextPorts();
                KeelProcess a = KeelProcess.start(nodeA.command(KeelProcess.command()), dirA, TestKeel.nextPorts(), "0", NodeWork.nodeEnv(common, nodeA));
                KeelProcess b = null;
                Process local = null;
                String id = null;
                String[] teamKey = new String[1];
                List<String> left = new ArrayList<>(); // databases to delete, followers first
                try {
                    Files.copy(dirA.resolve("admin-api-key"), dirB.resolve("admin-api-key"));
                    b = KeelProcess.start(nodeB.command(KeelProcess.command()), dirB, portsB, "0", NodeWork.nodeEnv(common, nodeB));
                    Api teamAtA = NodeWork.newTeam(a.api(), "host-loss");
                    teamKey[0] = teamAtA.key();
                    Api teamAtB = b.api().withKey(teamAtA.key());
                    Path ca = dirA.resolveSibling("loss-client-ca.pem");
                    Files.writeString(ca, a.api().get("/v1/ca.pem").text());

                    JsonNode premium = teamAtA.provision("{\"plan\":\"premium-0\"}");
                    id = premium.get("id").asText();
                    String dbPath = "/v1/databases/" + id;
                    assertThat(NodeWork.serverOn(premium, "primary")).isEqualTo("node-a");
                    NodeWork.awaitStandbyOn(teamAtA, id, "node-b");
                    Wait.until("commits to wait for the standby (synchronous)", Timeouts.HA_STANDBY,
                            () -> Boolean.TRUE.equals(teamAtA.get(dbPath + "/ha").json().path("synchronous").asBoolean(false)));
                    String oldPrimary = premium.get("instances").get(0).get("id").asText();
                    long postmaster = Long.parseLong(Files.readAllLines(NodeWork.dataDir(dirA, oldPrimary).resolve("postmaster.pid")).get(0).strip());

                    AtomicReference<Api> via = new AtomicReference<>(teamAtB);
                    try (FailoverWriter writer = FailoverWriter.start(() -> via.get().get(dbPath).field("url"), ca)) {
                        writer.awaitAckOn(nodeA.address(), System.nanoTime(), Timeouts.REQUEST);
                        // The second writer runs on node-a's host, so the cut leaves it beside the old primary: whatever that
                        // primary acknowledges to it after the cut would be a write the other side never sees.
                        Path localAcks = dirA.resolveSibling("loss-local-acks.txt");
                        local = nodeA.exec("bash", "-c", LOCAL_WRITER, "local-writer", psqlUrl(premium.get("url").asText(), ca))
                                .redirectOutput(localAcks.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                        Wait.until("the writer on node-a's host to be acknowledged", Timeouts.REQUEST,
                                () -> localAcks(localAcks).size() >= 5);

                        // 0. The catalog's host cut off: both nodes lose it, the standby still replies, so nothing is fenced and
                        // every write goes on being acknowledged.
                        Hosts.Host db = hosts.host("db");
                        Api admin = b.api();
                        long catalogCut = System.nanoTime();
                        db.cut();
                        Thread.sleep(CATALOG_OUTAGE.toMillis());
                        long catalogBack = System.nanoTime();
                        db.heal();
                        assertThat(NodeWork.goneOrZombie(postmaster)).as("the primary was fenced during a catalog outage").isFalse();
                        Duration longest = longestPause(writer, catalogCut, catalogBack);
                        observed.add("catalog cut for " + CATALOG_OUTAGE.toSeconds() + " s: " + writer.acked().values().stream()
                                .filter(ack -> ack.at() > catalogCut && ack.at() < catalogBack).count() + " writes acknowledged meanwhile,"
                                + " the longest pause " + longest.toMillis() + " ms");
                        assertThat(longest).isLessThan(Duration.ofSeconds(2));
                        Wait.until("both nodes to reach the catalog again", Timeouts.CATALOG_CUT_REQUEST, () -> {
                            for (JsonNode row : admin.get("/v1/nodes").json()) {
                                if (!"active".equals(row.get("state").asText())) {
                                    return false;
                                }
                            }
                            return true;
                        });

                        // 1. A partition: node-a's link cut, every process left running.
                        Instant cutAt = Instant.now();
                        long cut = System.nanoTime();
                        nodeA.cut();
                        Instant killedAt = NodeWork.awaitGone("node-a to fence its primary", postmaster);
                        Duration fenced = Duration.between(cutAt, killedAt);
                        observed.add("partition: node-a killed its primary " + fenced.toMillis() + " ms after the cut (T_fence "
                                + FENCE_AFTER.toMillis() + " ms)");
                        assertThat(fenced).isLessThan(FENCED_BY.plusMillis(500));
                        writer.awaitAckOn(nodeB.address(), cut, Timeouts.SWITCHOVER);
                        Duration gap = writer.gap(cut, nodeB.address());
                        observed.add("partition: last write on node-a to first on node-b: " + gap.toMillis() + " ms; the writer's"
                                + " failures meanwhile: " + writer.failures(cut, cut + gap.toNanos() + 1_000_000_000L));
                        assertThat(gap).as("the standby is promoted only once the old primary is surely fenced").isGreaterThan(fenced);
                        JsonNode failedOver = teamAtB.get(dbPath).json();
                        assertThat(NodeWork.serverOn(failedOver, "primary")).as(failedOver.toString()).isEqualTo("node-b");
                        JsonNode decision = teamAtB.get(dbPath + "/ha").json().get("decisions").get(0);
                        assertThat(decision.get("sentence").asText()).contains("node node-a, which hosts the primary, has been silent");
                        // The order that matters: the old primary was gone before the standby's node decided to promote.
                        Instant decided = Instant.parse(teamAtB.get("/v1/operations/" + decision.get("operation_id").asText())
                                .field("created_at"));
                        observed.add("partition: the old primary was gone " + Duration.between(killedAt, decided).toMillis() + " ms before"
                                + " node-b decided to promote");
                        assertThat(killedAt).as("the old primary killed before the promotion").isBefore(decided);
                        local.destroyForcibly().waitFor();
                        Map<Integer, Instant> localAcked = localAcks(localAcks);
                        long afterCut = localAcked.values().stream().filter(at -> at.isAfter(cutAt)).count();
                        observed.add("partition: the writer beside the old primary had " + localAcked.size() + " writes acknowledged, "
                                + afterCut + " of them after the cut");
                        String newPrimary = teamAtB.get(dbPath).field("url");
                        assertThat(writer.lostFrom(() -> numbers(newPrimary, ca))).as("acknowledged numbers missing on the new primary"
                                + " (the cut at %d ns)", cut).isEmpty();
                        Set<Integer> present = numbers(newPrimary, ca);
                        assertThat(localAcked.keySet().stream().filter(n -> !present.contains(n)).toList())
                                .as("numbers the old primary acknowledged beside it, missing on the new primary").isEmpty();

                        // Healed: the old primary stays down, and the standby is built on node-a again.
                        nodeA.heal();
                        NodeWork.awaitStandbyOn(teamAtB, id, "node-a");
                        assertThat(runningIn(NodeWork.dataDir(dirA, oldPrimary))).as("the old primary runs again").isFalse();
                        JsonNode healed = teamAtB.get(dbPath).json();
                        assertThat(stateOf(healed, oldPrimary)).as(healed.toString()).isEqualTo("fenced");
                        observed.add("healed: the old primary stayed fenced; the standby was rebuilt on node-a");

                        // A follower on node-b of a leader on node-a: once node-b's host is lost, node-a makes it anew.
                        JsonNode leader = teamAtA.provision("{\"plan\":\"standard-0\"}");
                        left.add(leader.get("id").asText());
                        assertThat(NodeWork.serverOn(leader, "primary")).isEqualTo("node-a");
                        ArchiveWaits.awaitInitialBackup(teamAtA, leader.get("id").asText());
                        NodeWork.execute(leader.get("url").asText(), ca, "create table kept as select generate_series(1, 1000) n");
                        Api.Response following = teamAtA.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\""
                                + leader.get("name").asText() + "\"}");
                        assertThat(following.status()).as(following.toString()).isEqualTo(202);
                        String followerId = following.field("id");
                        left.add(0, followerId);
                        JsonNode follower = teamAtA.awaitAvailable(followerId, Timeouts.RESTORE);
                        assertThat(NodeWork.serverOn(follower, "primary")).as(follower.toString()).isEqualTo("node-b");

                        // A standby's node that never saw the primary answer cannot tell how far behind it is, and refuses.
                        Wait.until("node-a to watch the primary from the standby's side", Timeouts.LOG_LINE,
                                () -> a.log().contains("node node-a watches its primary on node node-b from the standby's side"));
                        // A standard database on node-b (node-a drained while it is made), without a standby: its WAL receiver runs
                        // on node-a, so what the receiver had of it survives node-b's host.
                        assertThat(a.api().post("/v1/nodes/node-a/drain", "").status()).isEqualTo(200);
                        JsonNode standard;
                        try {
                            standard = teamAtB.provision("{\"plan\":\"standard-0\"}");
                        } finally {
                            assertThat(a.api().post("/v1/nodes/node-a/activate", "").status()).isEqualTo(200);
                        }
                        assertThat(NodeWork.serverOn(standard, "primary")).isEqualTo("node-b");
                        ArchiveWaits.awaitInitialBackup(teamAtB, standard.get("id").asText());
                        NodeWork.awaitReceiverOn(teamAtA, standard.get("id").asText(), "node-a", null);
                        FailoverWriter unreplicated = FailoverWriter.start(() -> standard.get("url").asText(), ca);

                        // 2. A host lost: every process on node-b's host killed, its link cut.
                        unreplicated.awaitAckOn(nodeB.address(), System.nanoTime(), Timeouts.REQUEST);
                        // The receiver starts at its slot's start, the database's first segment, and streams the initial backup's WAL
                        // before the writer's: under a loaded CI it was still there when the host went (the rollback then lacked even
                        // the writer's table). What is tested is a receiver that has caught up: it has stored the writes so far.
                        String written;
                        try (Connection primary = Pg.connect(standard.get("url").asText(), ca)) {
                            written = Pg.scalar(primary, "select pg_current_wal_lsn()");
                        }
                        NodeWork.awaitReceiverOn(teamAtA, standard.get("id").asText(), "node-a", written);
                        Thread.sleep(3000);
                        via.set(teamAtA);
                        long lost = System.nanoTime();
                        nodeB.killAll();
                        nodeB.cut();
                        writer.awaitAckOn(nodeA.address(), lost, Timeouts.SWITCHOVER);
                        Duration lostGap = writer.gap(lost, nodeA.address());
                        observed.add("host lost: last write on node-b to first on node-a: " + lostGap.toMillis() + " ms");
                        assertThat(NodeWork.serverOn(teamAtA.get(dbPath).json(), "primary")).isEqualTo("node-a");
                        writer.close();
                        String lastPrimary = teamAtA.get(dbPath).field("url");
                        assertThat(writer.lostFrom(() -> numbers(lastPrimary, ca))).as("acknowledged numbers missing after the host loss")
                                .isEmpty();
                        observed.add("acknowledged in all: " + writer.acked().size() + ", none missing");

                        // The standard database lost with node-b's host: once an operator forgets node-b (asked of node-a), its
                        // primary is made anew on node-a from its own archive, under its own name and credentials.
                        unreplicated.close();
                        String standardId = standard.get("id").asText();
                        Wait.until("node-b to be lost", Timeouts.SWITCHOVER, () -> "lost".equals(NodeWork.state(a.api(), "node-b")));
                        long forgetAt = System.nanoTime();
                        Api.Response forgotten = a.api().post("/v1/nodes/node-b/forget", "{\"confirm\":\"node-b\"}");
                        assertThat(forgotten.status()).as(forgotten.toString()).isEqualTo(200);
                        assertThat(forgotten.json().get("node").get("state").asText()).isEqualTo("forgotten");
                        // The premium database failed over already, and a follower is the follower watch's: the standard one alone.
                        assertThat(forgotten.json().get("databases")).as(forgotten.toString()).hasSize(1);
                        JsonNode affected = forgotten.json().get("databases").get(0);
                        assertThat(affected.get("id").asText() + " " + affected.get("action").asText() + " " + affected.get("node").asText())
                                .isEqualTo(standardId + " remake node-a");
                        NodeWork.awaitSucceeded(teamAtA, affected.get("operation_id").asText());
                        JsonNode restored = teamAtA.get("/v1/databases/" + standardId).json();
                        assertThat(NodeWork.serverOn(restored, "primary")).as(restored.toString()).isEqualTo("node-a");
                        String restoredUrl = restored.get("url").asText();
                        assertThat(restoredUrl.replaceFirst("@[^/]+/", "@host/")).as("its own credentials and database")
                                .isEqualTo(standard.get("url").asText().replaceFirst("@[^/]+/", "@host/"));
                        Set<Integer> kept = numbers(restoredUrl, ca);
                        // Its receiver on node-a had every write node-b sent: a write acknowledged a quarter of a second before the
                        // loss is in the new primary (one on node-b's host would have lost up to a second, its parts' upload interval).
                        long bound = lost - Duration.ofMillis(250).toNanos();
                        List<Integer> older = unreplicated.acked().entrySet().stream().filter(e -> e.getValue().at() < bound)
                                .map(Map.Entry::getKey).toList();
                        long lastMomentLost = unreplicated.acked().entrySet().stream()
                                .filter(e -> e.getValue().at() >= bound && !kept.contains(e.getKey())).count();
                        observed.add("host lost, standard database (WAL received on node-a): " + unreplicated.acked().size()
                                + " writes acknowledged; node-b forgotten, its primary made anew on node-a in "
                                + Duration.ofNanos(System.nanoTime() - forgetAt).toMillis() + " ms with " + kept.size()
                                + " of them; of the last 250 ms's, " + lastMomentLost + " missing");
                        assertThat(older.stream().filter(n -> !kept.contains(n)).toList())
                                .as("writes acknowledged over 250 ms before the host was lost, missing after node-b was forgotten").isEmpty();
                        NodeWork.execute(restoredUrl, ca, "insert into acked (n) values (-1)");
                        teamAtA.deprovision(standardId);

                        // The follower whose node was lost is made anew on node-a, the only node left, from its leader's backup.
                        long lostAt = lost;
                        JsonNode remade = Wait.until("the follower to be made anew on node-a", Timeouts.FOLLOWER_WATCH.plus(Timeouts.RESTORE),
                                () -> Optional.of(teamAtA.get("/v1/databases/" + followerId).json())
                                        .filter(view -> "node-a".equals(NodeWork.serverOn(view, "primary"))
                                                && "running".equals(stateOn(view, "node-a"))));
                        assertThat(remade.get("instances").findValuesAsText("state")).as(remade.toString()).hasSize(2);
                        assertThat(remade.get("instances").get(0).get("node").asText() + remade.get("instances").get(1).get("node").asText()
                                + " " + remade.get("instances").findValuesAsText("state")).as("the old server, left to node-b to remove")
                                .isIn("node-anode-b [running, deleting]", "node-bnode-a [deleting, running]");
                        observed.add("host lost, follower: made anew on node-a " + Duration.ofNanos(System.nanoTime() - lostAt).toSeconds()
                                + " s after the loss");
                        try (Connection replica = Pg.connect(remade.get("url").asText(), ca)) {
                            assertThat(Pg.scalar(replica, "select pg_is_in_recovery()::text || ' ' || count(*) from kept"))
                                    .isEqualTo("true 1000");
                        }
                        NodeWork.execute(leader.get("url").asText(), ca, "insert into kept values (1001)");
                        Wait.until("the follower made anew to stream from its leader", Timeouts.FOLLOWER_WATCH, () -> {
                            try (Connection replica = Pg.connect(remade.get("url").asText(), ca)) {
                                return "1001".equals(Pg.scalar(replica, "select count(*) from kept"));
                            } catch (SQLException e) {
                                return false;
                            }
                        });
                        for (String database : List.copyOf(left)) {
                            teamAtA.deprovision(database);
                            left.remove(database);
                        }
                    }
                    teamAtA.deprovision(id);
                    id = null;
                } finally {
                    if (local != null) {
                        local.destroyForcibly();
                    }
                    if (id != null) {
                        left.add(id);
                    }
                    NodeWork.tearDown("HostLossIT", observed, left, teamKey[0], a, b, dirA, dirB);
                }
            }
        }
    }

    /** The longest time between two acknowledged writes from {@code from} to {@code to} ({@link System#nanoTime}). */
    private static Duration longestPause(FailoverWriter writer, long from, long to) {
        long previous = from;
        long longest = 0;
        for (FailoverWriter.Ack ack : writer.acked().values()) {
            if (ack.at() > from && ack.at() <= to) {
                longest = Math.max(longest, ack.at() - previous);
                previous = ack.at();
            }
        }
        return Duration.ofNanos(Math.max(longest, to - previous));
    }

    /** Inserts 1000000, 1000001, ... through psql, one connection each, and prints each number acknowledged with the time. */
    private static final String LOCAL_WRITER = "i=1000000; while true; do"
            + " if PGCONNECT_TIMEOUT=1 psql -X -q -v ON_ERROR_STOP=1 \"$1\" -c \"insert into acked (n) values ($i)\" >/dev/null 2>&1;"
            + " then echo \"$i $(date +%s.%N)\"; fi; i=$((i+1)); sleep 0.01; done";

    private static String psqlUrl(String url, Path ca) {
        return url + (url.contains("?") ? "&" : "?") + "sslmode=verify-full&sslrootcert=" + ca;
    }

    private static Map<Integer, Instant> localAcks(Path file) {
        Map<Integer, Instant> acks = new HashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                String[] parts = line.strip().split(" ");
                if (parts.length == 2) {
                    String[] seconds = parts[1].split("\\.");
                    acks.put(Integer.parseInt(parts[0]), Instant.ofEpochSecond(Long.parseLong(seconds[0]), Long.parseLong(seconds[1])));
                }
            }
        } catch (IOException e) {
            return Map.of();
        }
        return acks;
    }

    static Set<Integer> numbers(String url, Path ca) throws SQLException {
        Set<Integer> present = new HashSet<>();
        try (Connection connection = Pg.connect(url, ca); Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery("select n from acked")) {
            while (rows.next()) {
                present.add(rows.getInt(1));
            }
        }
        return present;
    }

    private static String stateOf(JsonNode view, String instance) {
        for (JsonNode server : view.get("instances")) {
            if (instance.equals(server.get("id").asText())) {
                return server.get("state").asText();
            }
        }
        return "gone";
    }

    /** The state of the database's server on node {@code node} in its view, or "gone". */
    private static String stateOn(JsonNode view, String node) {
        for (JsonNode server : view.get("instances")) {
            if (node.equals(server.get("node").asText()) && !"deleting".equals(server.get("state").asText())) {
                return server.get("state").asText();
            }
        }
        return "gone";
    }

    /** Whether a postmaster runs in {@code data} now (its pid file names a live process). */
    static boolean runningIn(Path data) throws IOException {
        Path pidFile = data.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return false;
        }
        List<String> lines = Files.readAllLines(pidFile);
        return !lines.isEmpty() && !NodeWork.goneOrZombie(Long.parseLong(lines.get(0).strip()));
    }
}
