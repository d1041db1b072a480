package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.KeelHome;
import dev.keel.storage.S3Settings;
import dev.keel.logs.HostedLogs;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.UUID;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two Keel nodes on one external catalog and one object store, in one JVM on one machine (the
 * network-namespace harness puts them on separate hosts): each answers the whole API, a database
 * made through a node is hosted by it (through a drained node, by the other), an operation asked
 * of one node for a database the other hosts is carried out by the other (recorded by the first,
 * picked up from the catalog), and a node whose control plane stops is shown lost while its
 * database keeps serving, a provision it never began is taken over by the other node, and it
 * comes back and takes new work again.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(2)
@ExtendWith(SharedKeel.class)
class TwoNodesTest {

    @Test
    void eachNodeServesTheWholeApiAndCarriesOutTheWorkOfWhatItHosts(TestKeel shared) throws Exception {
        TestKeel.CatalogServerDatabase catalog = shared.newDatabaseOnCatalogServer("two_nodes");
        // The premium database's standby is built, moved and replaced by one node's monitor again and again within a minute: each
        // build is asked for 5 s after that node's last one began, not after the default minute (keel.ha.standby-retry).
        Map<String, Object> common = Map.of("keel.catalog.url", catalog.url(), "keel.node.heartbeat-interval", "1s",
                "keel.node.lost-after", "4s", "keel.operations.inbox-interval", "2s", "keel.ha.standby-retry", "5s");
        Map<String, Object> first = new HashMap<>(common);
        first.put("keel.node.name", "node-a");
        try (TestKeel a = TestKeel.start("two-nodes-a", first)) {
            // The second node shares the first's keys and object store, as an operator configures KEEL_SECRET_KEY and KEEL_S3_*.
            Path bDir = TestKeel.freshDataDir("two-nodes-b");
            Files.copy(a.dataDir().resolve("secret-key"), bDir.resolve("secret-key"), StandardCopyOption.COPY_ATTRIBUTES);
            Files.copy(a.dataDir().resolve("admin-api-key"), bDir.resolve("admin-api-key"), StandardCopyOption.COPY_ATTRIBUTES);
            S3Settings s3 = a.bean(S3Settings.class);
            Map<String, Object> second = new HashMap<>(common);
            second.put("keel.node.name", "node-b");
            second.put("keel.s3.endpoint", s3.endpoint());
            second.put("keel.s3.bucket", s3.bucket());
            second.put("keel.s3.access-key-id", s3.accessKeyId());
            second.put("keel.s3.secret-access-key", s3.secretAccessKey());
            try (TestKeel b = TestKeel.start(bDir, second)) {
                Api teamAtA = a.newTeam("two-nodes");
                Api teamAtB = b.api().withKey(teamAtA.key());
                assertThat(NodeWork.state(a.api(), "node-b")).isEqualTo("active");
                assertThat(NodeWork.state(b.api(), "node-a")).isEqualTo("active");

                JsonNode onA = teamAtA.provision("{\"plan\":\"essential-0\"}");
                JsonNode onB = teamAtB.provision("{\"plan\":\"essential-0\",\"version\":\"15\"}"); // Debian's pg_dump is 15
                String idA = onA.get("id").asText();
                String idB = onB.get("id").asText();
                assertThat(onA.get("instances").get(0).get("node").asText()).isEqualTo("node-a");
                assertThat(onB.get("instances").get(0).get("node").asText()).isEqualTo("node-b");
                // Either node shows either database, from the one catalog.
                assertThat(teamAtA.get("/v1/databases/" + idB).field("state")).isEqualTo("available");
                assertThat(teamAtB.get("/v1/databases/" + idA).field("state")).isEqualTo("available");

                // B drained: what is asked of B lands on A, whose runner makes it. The cost of that hand-off, as the time until
                // available through B against through A (medians of three, one after the other).
                assertThat(a.api().post("/v1/nodes/node-b/drain", "").status()).isEqualTo(200);
                List<Long> throughA = new ArrayList<>();
                List<Long> throughB = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    for (Api asked : List.of(teamAtA, teamAtB)) {
                        long began = System.nanoTime();
                        JsonNode made = asked.provision("{\"plan\":\"essential-0\"}");
                        (asked == teamAtA ? throughA : throughB).add(Duration.ofNanos(System.nanoTime() - began).toMillis());
                        assertThat(made.get("instances").get(0).get("node").asText()).as("asked of a drained node-b").isEqualTo("node-a");
                        teamAtA.deprovision(made.get("id").asText());
                    }
                }
                System.out.printf("provision to available, node-b drained: through node-a (hosting) p50 %d ms %s, through node-b"
                        + " (handing over) p50 %d ms %s%n", median(throughA), throughA, median(throughB), throughB);
                assertThat(a.api().post("/v1/nodes/node-b/activate", "").status()).isEqualTo(200);

                // B active but its memory budget used up (changed in its catalog row, as placement reads it): what is asked of B
                // goes to A, which has room.
                catalogUpdate("update nodes set memory_budget_mb = 1 where name = 'node-b'", catalog);
                JsonNode roomless = teamAtB.provision("{\"plan\":\"essential-0\"}");
                assertThat(roomless.get("instances").get(0).get("node").asText()).as("asked of node-b without memory room").isEqualTo("node-a");
                teamAtB.deprovision(roomless.get("id").asText());
                catalogUpdate("update nodes set memory_budget_mb = " + b.bean(ThisNode.class).memoryBudgetMb() + " where name = 'node-b'", catalog);

                assertTeamRunsCountAcrossNodes(teamAtA, teamAtB, onA, a.caFile());

                // A backup of B's database asked of A: A records it for B, and B takes it.
                assertCarriedOutBy(teamAtA, idB, "node-b", catalog);
                // And the other way round.
                assertCarriedOutBy(teamAtB, idA, "node-a", catalog);

                // A logical backup of B's database asked of A is run by B, whose pg_dump waits for a lock held here. Canceled
                // through A, which has nothing of it to kill, B finds the cancel in the catalog and kills its pg_dump.
                try (Connection owner = Pg.connect(onB.get("url").asText(), a.caFile()); Statement sql = owner.createStatement()) {
                    sql.execute("create table locked (n int)");
                    owner.setAutoCommit(false);
                    sql.execute("lock table locked in access exclusive mode");
                    Api.Response dump = teamAtA.post("/v1/databases/" + idB + "/logical-backups", "");
                    assertThat(dump.status()).as(dump.toString()).isEqualTo(202);
                    Wait.until("node-b's pg_dump to wait for the lock", Timeouts.LOGICAL_BACKUP, () -> waitingLocks(owner) > 0);
                    assertThat(catalogScalar("select o.node from operations o join transfers t on t.operation_id = o.id where t.id = '"
                            + dump.field("id") + "'", catalog)).isEqualTo("node-b");
                    Api.Response canceled = teamAtA.post("/v1/databases/" + idB + "/logical-backups/" + dump.field("id") + "/cancel", "");
                    assertThat(canceled.status()).as(canceled.toString()).isEqualTo(200);
                    long cancel = System.nanoTime();
                    // Its operation ends while the lock is still held: node-b killed its pg_dump (whose server session still waits).
                    // Within seconds, far sooner than pg_dump's own lock wait (2 min) would end it.
                    Wait.until("node-b to stop the canceled pg_dump", Duration.ofSeconds(10), () -> !"running".equals(catalogScalar("select o.state"
                            + " from operations o join transfers t on t.operation_id = o.id where t.id = '" + dump.field("id") + "'", catalog)));
                    System.out.printf("a pg_dump on node-b canceled through node-a stopped %d ms later%n",
                            Duration.ofNanos(System.nanoTime() - cancel).toMillis());
                    owner.rollback();
                }

                String urlB = onB.get("url").asText();
                try (Connection connection = Pg.connect(urlB, a.caFile()); Statement statement = connection.createStatement()) {
                    statement.execute("create table kept (note text); insert into kept values ('before node-b stopped')");
                }

                // Each database's WAL receiver runs on the other node, away from its primary's host; either node's /archive shows
                // it (the receiving node reports it in the catalog).
                awaitReceiverOn(teamAtA, idA, "node-b");
                awaitReceiverOn(teamAtB, idA, "node-b");
                awaitReceiverOn(teamAtB, idB, "node-a");

                // B's control plane stops; its server keeps serving, and A shows B lost.
                b.stopControlPlane();
                long stopped = System.nanoTime();
                Wait.until("node-b to be shown lost by node-a", Timeouts.NODE_HEARTBEAT, () -> "lost".equals(NodeWork.state(a.api(), "node-b")));
                System.out.printf("node-b shown lost by node-a %d ms after its control plane stopped (lost-after 4s)%n",
                        Duration.ofNanos(System.nanoTime() - stopped).toMillis());
                try (Connection connection = Pg.connect(urlB, a.caFile()); Statement statement = connection.createStatement()) {
                    statement.execute("insert into kept values ('while node-b was lost')");
                }
                // B's database's WAL goes on reaching the store from A, which received it all along; A's database's receiver,
                // on B before, is now on A, the only node left.
                awaitReceiverOn(teamAtA, idB, "node-a");
                awaitReceiverOn(teamAtA, idA, "node-a");
                assertThat(teamAtA.get("/v1/databases/" + idB).field("state")).isEqualTo("available");
                // A backup of B's database asked meanwhile waits for B, begun by nobody.
                String waiting = NodeWork.askBackup(teamAtA, idB);
                Thread.sleep(3000); // longer than the inbox's interval: a node that took it would have begun it
                assertThat(teamAtA.get("/v1/operations/" + waiting).json().get("state").asText()).isEqualTo("running");
                assertThat(startedAt(waiting, catalog)).isEqualTo("never");

                // A provision recorded for node-b just before it fell silent (its heartbeat made fresh again in the catalog, as
                // if it had died right after beating): node-a, drained when asked, passes it to node-b. Once node-a is active
                // and node-b silent past lost-after, node-a takes it over: node-b began nothing of it.
                assertThat(a.api().post("/v1/nodes/node-a/drain", "").status()).isEqualTo(200);
                catalogUpdate("update nodes set heartbeat_at = now() where name = 'node-b'", catalog);
                Api.Response asked = teamAtA.post("/v1/databases", "{\"plan\":\"essential-0\"}");
                assertThat(asked.status()).as(asked.toString()).isEqualTo(202);
                String stranded = asked.field("id");
                assertThat(provisionedBy(stranded, catalog)).isEqualTo("node-b");
                Wait.until("node-b to be silent again", Timeouts.NODE_HEARTBEAT, () -> "lost".equals(NodeWork.state(a.api(), "node-b")));
                Thread.sleep(3000); // longer than the inbox's interval: node-a, drained, takes over nothing
                assertThat(provisionedBy(stranded, catalog)).isEqualTo("node-b");
                assertThat(a.api().post("/v1/nodes/node-a/activate", "").status()).isEqualTo(200);
                long activated = System.nanoTime();
                JsonNode takenOver = teamAtA.awaitAvailable(stranded);
                System.out.printf("a provision stranded on silent node-b available through node-a %d ms after node-a was activated"
                        + " (inbox interval 2s)%n", Duration.ofNanos(System.nanoTime() - activated).toMillis());
                assertThat(takenOver.get("instances").get(0).get("node").asText()).isEqualTo("node-a");
                assertThat(provisionedBy(stranded, catalog)).isEqualTo("node-a");

                // B comes back, reattaches to its server, runs the backup that waited for it (not begun, so not recovered as
                // interrupted), and takes what A records for it again.
                b.startControlPlane();
                Wait.until("node-b to be active again", Timeouts.NODE_HEARTBEAT, () -> "active".equals(NodeWork.state(a.api(), "node-b")));
                NodeWork.awaitSucceeded(teamAtA, waiting);
                assertRecorded(teamAtA, waiting, "node-b", catalog);
                assertCarriedOutBy(teamAtA, idB, "node-b", catalog);
                // The provision node-a took over was made once, there: node-b, back, neither ran nor recovered it.
                assertThat(teamAtA.get("/v1/databases/" + stranded).json().get("instances")).hasSize(1);
                assertThat(provisionedBy(stranded, catalog)).isEqualTo("node-a");
                try (Connection connection = Pg.connect(urlB, a.caFile()); Statement statement = connection.createStatement();
                     ResultSet rows = statement.executeQuery("select count(*) from kept")) {
                    rows.next();
                    assertThat(rows.getInt(1)).isEqualTo(2);
                }

                // A settings change asked of A for a database B hosts: B applies it to its server, and A answers once it has.
                JsonNode tunable = b.api().withKey(teamAtA.key()).provision("{\"plan\":\"standard-0\",\"version\":\"15\"}");
                assertThat(tunable.get("instances").get(0).get("node").asText()).isEqualTo("node-b");
                Api.Response changed = teamAtA.patch("/postgres/v0/databases/" + tunable.get("name").asText() + "/config",
                        "{\"log_statement\":\"ddl\"}");
                assertThat(changed.status()).as(changed.toString()).isEqualTo(200);
                assertThat(changed.json().get("log_statement").get("value").asText()).isEqualTo("ddl");
                try (Connection connection = Pg.connect(tunable.get("url").asText(), a.caFile())) {
                    assertThat(Pg.scalar(connection, "show log_statement")).isEqualTo("ddl");
                }
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select node || ' ' || recorded_by || ' ' || state from operations where kind ="
                            + " 'reconfigure' and database_id = '" + tunable.get("id").asText() + "'")).isEqualTo("node-b node-a succeeded");
                }

                // A follower of it asked of B goes to A, away from its leader's node; it streams from B, and its own settings
                // change asked of B is applied by A.
                Api teamAtNewB = b.api().withKey(teamAtA.key());
                ArchiveWaits.awaitInitialBackup(teamAtNewB, tunable.get("id").asText());
                Api.Response follow = teamAtNewB.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\""
                        + tunable.get("id").asText() + "\"}");
                assertThat(follow.status()).as(follow.toString()).isEqualTo(202);
                JsonNode follower = teamAtNewB.awaitAvailable(follow.field("id"), Timeouts.RESTORE);
                assertThat(follower.get("instances").get(0).get("node").asText()).as("a follower away from its leader").isEqualTo("node-a");
                try (Connection leader = Pg.connect(tunable.get("url").asText(), a.caFile()); Statement statement = leader.createStatement()) {
                    statement.execute("create table streamed (n int primary key); insert into streamed values (1)");
                }
                try (Connection replica = Pg.connect(follower.get("url").asText(), a.caFile())) {
                    Wait.until("the follower on node-a to replay its leader's row", Timeouts.RESTORE,
                            () -> tableExists(replica, "streamed"));
                }
                Api.Response followerChanged = teamAtNewB.patch("/postgres/v0/databases/" + follower.get("name").asText() + "/config",
                        "{\"log_statement\":\"mod\"}");
                assertThat(followerChanged.status()).as(followerChanged.toString()).isEqualTo(200);
                try (Connection replica = Pg.connect(follower.get("url").asText(), a.caFile())) {
                    assertThat(Pg.scalar(replica, "show log_statement")).isEqualTo("mod");
                }
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select node || ' ' || recorded_by || ' ' || state from operations where kind ="
                            + " 'reconfigure' and database_id = '" + follower.get("id").asText() + "'")).isEqualTo("node-a node-b succeeded");
                }
                // Its server log asked of B is read from A, which hosts it (a sealed range read of A's API); the read is A's alone.
                JsonNode followerLog = teamAtNewB.get("/v1/databases/" + follower.get("id").asText() + "/logs?lines=5").json();
                assertThat(followerLog.get("instance_id").asText()).isEqualTo(follower.get("instances").get(0).get("id").asText());
                assertThat(followerLog.get("lines")).as("the follower's log read through node-b").isNotEmpty();
                UUID followerServer = UUID.fromString(follower.get("instances").get(0).get("id").asText());
                String read = b.bean(HostedLogs.class).token(followerServer, 0, 64);
                assertThat(logRead(a, read).status()).isEqualTo(200);
                assertThat(logRead(b, read).status()).as("node-b does not host it").isEqualTo(404);
                assertThat(logRead(a, read.substring(0, read.length() - 2) + "AA").status())
                        .as("an altered token").isEqualTo(404);

                // The leader upgraded from Postgres 15 to 17, asked of A and run by B, which hosts it: its follower is made anew on
                // 17 by a rebuild operation of its own, which node-b records for node-a, where the follower runs and stays.
                Api.Response upgrade = teamAtA.post("/v1/databases/" + tunable.get("id").asText() + "/upgrade", "{\"version\":17}");
                assertThat(upgrade.status()).as(upgrade.toString()).isEqualTo(202);
                String upgradeOperation = upgrade.field("operation_id");
                Wait.until("the leader's upgrade to end", Timeouts.UPGRADE,
                        () -> !"running".equals(teamAtA.get("/v1/operations/" + upgradeOperation).field("state")));
                assertThat(teamAtA.get("/v1/operations/" + upgradeOperation).json().get("state").asText()).isEqualTo("succeeded");
                String rebuild = catalogScalar("select id || ' ' || node || ' ' || recorded_by from operations where kind = 'rebuild'"
                        + " and database_id = '" + follower.get("id").asText() + "'", catalog);
                assertThat(rebuild).endsWith(" node-a node-b");
                NodeWork.awaitSucceeded(teamAtA, rebuild.split(" ")[0]);
                JsonNode rebuiltFollower = teamAtA.get("/v1/databases/" + follower.get("id").asText()).json();
                assertThat(rebuiltFollower.get("version").asText()).isEqualTo("17");
                assertThat(NodeWork.serverOn(rebuiltFollower, "primary")).as("the rebuilt follower's node").isEqualTo("node-a");
                try (Connection replica = Pg.connect(rebuiltFollower.get("url").asText(), a.caFile())) {
                    assertThat(Pg.scalar(replica, "select current_setting('server_version_num')::int / 10000 || ' ' || count(*)"
                            + " from streamed")).isEqualTo("17 1");
                }

                // The leader's plan change asked of A: B, hosting the leader, hands the follower's new settings to A first. A
                // backup of the leader asked of B at once races it: both are carried out by B, one after the other (one
                // operation at a time per database, whichever node asked), as the catalog's times show.
                Api.Response planChanged = teamAtA.patch("/v1/databases/" + tunable.get("id").asText(), "{\"plan\":\"premium-0\"}");
                assertThat(planChanged.status()).as(planChanged.toString()).isEqualTo(202);
                String planChange = planChanged.json().get("progress").get("operation_id").asText();
                Api.Response backupAsked = teamAtNewB.post("/v1/databases/" + tunable.get("id").asText() + "/backups", "");
                assertThat(backupAsked.status()).as("the backup asked while the plan change is pending: %s", backupAsked).isEqualTo(202);
                String racingBackup = backupAsked.field("operation_id");
                Wait.until("the leader's plan change to end", Timeouts.RESTORE,
                        () -> !"running".equals(teamAtA.get("/v1/operations/" + planChange).field("state")));
                assertThat(teamAtA.get("/v1/operations/" + planChange).field("state")).isEqualTo("succeeded");
                NodeWork.awaitSucceeded(teamAtA, racingBackup);
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select string_agg(node, ' ') from operations where id in ('" + planChange + "', '"
                            + racingBackup + "')")).isEqualTo("node-b node-b");
                    assertThat(Pg.scalar(connection, "select count(*) from operations p, operations b where p.id = '" + planChange
                            + "' and b.id = '" + racingBackup + "' and tstzrange(p.started_at, p.finished_at) && tstzrange(b.started_at,"
                            + " b.finished_at)")).as("the plan change and the backup ran at once").isEqualTo("0");
                    assertThat(Pg.scalar(connection, "select count(*) from operations p, operations b where p.id = '" + planChange
                            + "' and b.id = '" + racingBackup + "' and b.created_at < p.finished_at and p.created_at < b.finished_at"))
                            .as("the backup was asked while the plan change was pending").isEqualTo("1");
                }
                assertThat(teamAtA.get("/v1/databases/" + tunable.get("id").asText()).field("plan")).isEqualTo("premium-0");
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select node || ' ' || recorded_by || ' ' || state from operations where kind ="
                            + " 'reconfigure' and database_id = '" + follower.get("id").asText() + "' order by created_at desc limit 1"))
                            .isEqualTo("node-a node-b succeeded");
                    assertThat(Pg.scalar(connection, "select count(*) from operations where kind = 'reconfigure' and database_id = '"
                            + follower.get("id").asText() + "'")).isEqualTo("2");
                }
                // Premium now: node-b's HA monitor, watching the primary it hosts, has the standby built on node-a, away from it.
                String leaderId = tunable.get("id").asText();
                NodeWork.awaitStandbyOn(teamAtNewB, leaderId, "node-a");
                // The leader deleted through A with its followers unfollowed: B deletes it, and A, hosting the follower,
                // promotes it into a database of its own. A also removes the standby it hosts, which B hands it.
                Api.Response deleted = teamAtA.delete("/v1/databases/" + tunable.get("id").asText() + "?unfollow_followers=true");
                assertThat(deleted.status()).as(deleted.toString()).isEqualTo(202);
                teamAtA.awaitGone(tunable.get("id").asText());
                JsonNode independent = teamAtA.get("/v1/databases/" + follower.get("id").asText()).json();
                assertThat(independent.path("following").isNull() || independent.path("following").isMissingNode()).as(independent.toString())
                        .isTrue();
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select node || ' ' || recorded_by || ' ' || state from operations where kind ="
                            + " 'unfollow' and database_id = '" + follower.get("id").asText() + "'")).isEqualTo("node-a node-b succeeded");
                }
                // Its credentials were renewed as it became independent: its URL now is the view's.
                try (Connection promoted = Pg.connect(independent.get("url").asText(), a.caFile());
                     Statement statement = promoted.createStatement()) {
                    statement.execute("insert into streamed values (2)");
                }
                teamAtA.deprovision(follower.get("id").asText());
                try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
                    assertThat(Pg.scalar(connection, "select string_agg(node || ' ' || recorded_by || ' ' || state, ', ') from operations"
                            + " where kind = 'discard' and database_id = '" + leaderId + "'")).isEqualTo("node-a node-b succeeded");
                }

                // A premium database made through A: its primary on A, its standby on B. A switchover asked of B is run by A,
                // which fences its primary and promotes B's standby; B then configures its new primary, takes the new
                // timeline's backup, and its monitor has the next standby built on A. Nothing committed is lost.
                JsonNode premium = teamAtA.provision("{\"plan\":\"premium-0\"}");
                String premiumId = premium.get("id").asText();
                assertThat(premium.get("instances").get(0).get("node").asText()).isEqualTo("node-a");
                NodeWork.awaitStandbyOn(teamAtA, premiumId, "node-b");
                try (Connection connection = Pg.connect(premium.get("url").asText(), a.caFile()); Statement statement = connection.createStatement()) {
                    statement.execute("create table committed (n int); insert into committed select generate_series(1, 100)");
                }
                // Its pool attached through B is run by A, which hosts the primary: B records it and waits for A to start it.
                assertThat(teamAtNewB.post("/v1/apps", "{\"name\":\"two-nodes-web\"}").status()).isEqualTo(201);
                Api.Response attached = teamAtNewB.post("/v1/apps/two-nodes-web/attachments", "{\"database\":\"" + premiumId
                        + "\",\"pooled\":true}");
                assertThat(attached.status()).as(attached.toString()).isEqualTo(201);
                String pooled = teamAtNewB.get("/v1/apps/two-nodes-web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
                assertThat(pooledServerPort(pooled, a)).isEqualTo(Pg.port(premium.get("url").asText()));
                Path poolerAtA = a.bean(KeelHome.class).serverDir().resolve("poolers").resolve(premiumId);
                Path poolerAtB = b.bean(KeelHome.class).serverDir().resolve("poolers").resolve(premiumId);
                assertThat(poolerAtA).isDirectory();
                assertThat(poolerAtB).doesNotExist();
                assertThat(switchOver(teamAtNewB, premiumId)).as("run by the old primary's node").isEqualTo("node-a");
                JsonNode moved = teamAtA.get("/v1/databases/" + premiumId).json();
                assertThat(NodeWork.serverOn(moved, "primary")).as(moved.toString()).isEqualTo("node-b");
                try (Connection connection = Pg.connect(moved.get("url").asText(), a.caFile()); Statement statement = connection.createStatement()) {
                    statement.execute("insert into committed values (101)");
                    assertThat(Pg.scalar(connection, "select count(*) from committed")).isEqualTo("101");
                }
                Wait.until("node-b to configure its new primary", Timeouts.SWITCHOVER, () -> "node-b node-a succeeded".equals(
                        catalogScalar("select node || ' ' || recorded_by || ' ' || state from operations where kind = 'reconfigure' and"
                                + " database_id = '" + premiumId + "'", catalog)));
                NodeWork.awaitStandbyOn(teamAtA, premiumId, "node-a");
                // The pool moved with the primary: B runs it, A stopped its own.
                int newPrimaryPort = Pg.port(moved.get("url").asText());
                Wait.until("the pool to reach the new primary through node-b", Timeouts.POOL_FOLLOW, () -> {
                    String now = teamAtA.get("/v1/apps/two-nodes-web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
                    return pooledServerPort(now, a) == newPrimaryPort;
                });
                assertThat(poolerAtB).isDirectory();
                Wait.until("node-a to stop the pool it no longer runs", Timeouts.POOL_FOLLOW, () -> !Files.exists(poolerAtA));
                // Switched back, asked of A: B fences its primary and promotes A's standby, the pool moves back to A, and the
                // next standby is built on B.
                assertThat(switchOver(teamAtA, premiumId)).as("run by the old primary's node").isEqualTo("node-b");
                NodeWork.awaitStandbyOn(teamAtA, premiumId, "node-b");
                assertThat(NodeWork.serverOn(teamAtA.get("/v1/databases/" + premiumId).json(), "primary")).isEqualTo("node-a");
                Wait.until("the pool to move back to node-a", Timeouts.POOL_FOLLOW, () -> Files.exists(poolerAtA) && !Files.exists(poolerAtB));

                // Node-b's host lost while it holds the standby: its control plane stopped, then the standby's postmaster killed. A's
                // monitor, watching the primary, replaces the standby once node-b is lost and the standby has not streamed for as
                // long; the new one is on node-a, the only active node. Node-b, back, removes the old one, which A handed it.
                String oldStandby = null;
                for (JsonNode instance : teamAtA.get("/v1/databases/" + premiumId).json().get("instances")) {
                    if (instance.get("role").asText().equals("standby") && instance.get("state").asText().equals("running")) {
                        oldStandby = instance.get("id").asText();
                    }
                }
                assertThat(oldStandby).isNotNull();
                Path oldStandbyDir = b.serverDir().resolve("instances").resolve(oldStandby);
                long standbyPid = Long.parseLong(Files.readAllLines(oldStandbyDir.resolve("data").resolve("postmaster.pid")).get(0).strip());
                b.stopControlPlane();
                // Node-b's Keel alone stopped: its standby streams on, and is kept.
                Wait.until("node-b to be shown lost", Timeouts.NODE_HEARTBEAT, () -> "lost".equals(NodeWork.state(a.api(), "node-b")));
                Thread.sleep(5000); // more than lost-after, checked every second
                JsonNode kept = teamAtA.get("/v1/databases/" + premiumId + "/ha").json();
                assertThat(kept.get("status").asText()).as(kept.toString()).isEqualTo("Available");
                assertThat(kept.get("standby_instance").asText()).isEqualTo(oldStandby);
                assertThat(new ProcessBuilder("kill", "-KILL", Long.toString(standbyPid)).inheritIO().start().waitFor()).isZero();
                long hostLost = System.nanoTime();
                Wait.until("node-a's monitor to replace the standby lost with node-b", Timeouts.HA_STANDBY, () -> {
                    JsonNode view = teamAtA.get("/v1/databases/" + premiumId).json();
                    return "Available".equals(teamAtA.get("/v1/databases/" + premiumId + "/ha").field("status"))
                            && "node-a".equals(NodeWork.serverOn(view, "standby"));
                });
                System.out.printf("a standby lost with its node streamed again, rebuilt on node-a, %d ms after its host went (lost-after"
                        + " 4s)%n", Duration.ofNanos(System.nanoTime() - hostLost).toMillis());
                assertThat(teamAtA.get("/v1/databases/" + premiumId + "/ha").json().get("decisions").toString())
                        .contains("replace_standby").contains("its node node-b is lost");
                b.startControlPlane();
                String removed = oldStandby;
                Wait.until("node-b, back, to remove the standby it lost", Timeouts.NODE_HEARTBEAT.multipliedBy(3),
                        () -> "0".equals(catalogScalar("select count(*) from instances where id = '" + removed + "'", catalog)));
                assertThat(oldStandbyDir).doesNotExist();
                // Node-b active again: A's monitor moves the standby, which runs beside its primary, to node-b.
                NodeWork.awaitStandbyOn(teamAtA, premiumId, "node-b");
                assertThat(teamAtA.get("/v1/databases/" + premiumId + "/ha").json().get("decisions").toString())
                        .contains("moving the standby to node node-b: it runs beside its primary on node node-a");
                // A standby's build counts on its node's room from its record while the database's live standby is on another
                // node, as the move's new one does while the old one beside its primary is being removed.
                UUID premiumUuid = UUID.fromString(premiumId);
                UUID teamId = UUID.fromString(catalogScalar("select team_id from databases where id = '" + premiumId + "'", catalog));
                OperationRepository operationsAtA = a.bean(OperationRepository.class);
                UUID recorded = a.bean(DSLContext.class).transactionResult(tx -> operationsAtA.create(tx.dsl(), teamId, premiumUuid,
                        OperationKind.STANDBY, "recorded by the test", 1, "node-a")).id();
                try {
                    assertThat(a.bean(NodeRepository.class).pending(a.bean(DSLContext.class)).stream()
                            .filter(p -> p.databaseId().equals(premiumUuid)).toList())
                            .containsExactly(new NodeRepository.Pending(premiumUuid, "premium-0", false, true, "node-a"));
                } finally {
                    operationsAtA.fail(recorded, "ended by the test: it stood for a build recorded beside a live standby elsewhere");
                }

                // Deleted through A, which hosts both its servers now, with its pool.
                teamAtA.deprovision(premiumId);
                assertThat(poolerAtA).doesNotExist();

                // Deleting B's database through A: B removes its server.
                teamAtA.deprovision(idB);
                teamAtA.deprovision(stranded);
                b.api().withKey(teamAtA.key()).deprovision(idA); // B's API listens on a new port since its restart
            }
        }
    }

    private static long median(List<Long> millis) {
        return millis.stream().sorted().toList().get(millis.size() / 2);
    }

    /** Waits until database {@code id}'s /archive, asked through {@code asked}, shows its WAL receiver streaming on {@code node}. */
    private static void awaitReceiverOn(Api asked, String id, String node) {
        Wait.until("the WAL receiver of " + id + " to stream on " + node, Timeouts.STANDBY, () -> {
            JsonNode receiver = asked.get("/v1/databases/" + id + "/archive").json().path("receiver");
            return node.equals(receiver.path("node").asText(null)) && "streaming".equals(receiver.path("state").asText());
        });
    }

    /** Asks {@code asked} for a backup of {@code database}; the operation is recorded by the asked node and run by {@code runner}. */
    private static void assertCarriedOutBy(Api asked, String database, String runner, TestKeel.CatalogServerDatabase catalog) throws Exception {
        String operation = NodeWork.askBackup(asked, database);
        NodeWork.awaitSucceeded(asked, operation);
        assertRecorded(asked, operation, runner, catalog);
    }

    /** The operation names {@code runner} as its node, and the catalog says another node recorded it. */
    private static void assertRecorded(Api asked, String operation, String runner, TestKeel.CatalogServerDatabase catalog) throws Exception {
        assertThat(asked.get("/v1/operations/" + operation).json().get("node").asText()).isEqualTo(runner);
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password());
             Statement statement = connection.createStatement();
             ResultSet row = statement.executeQuery("select node, recorded_by from operations where id = '" + operation + "'")) {
            assertThat(row.next()).isTrue();
            assertThat(row.getString("node")).isEqualTo(runner);
            assertThat(row.getString("recorded_by")).isNotEqualTo(runner);
        }
    }

    private static boolean tableExists(Connection connection, String table) {
        try {
            return Pg.scalar(connection, "select count(*) from pg_catalog.pg_tables where tablename = '" + table + "'").equals("1");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A node's read of a server log, as another node asks for it (the token in its header, no API key). */
    private static Api.Response logRead(TestKeel node, String token) {
        Api anonymous = node.api().withKey(null);
        return anonymous.send(anonymous.request("/internal/server-logs").header("Keel-Log-Read", token).GET());
    }

    private static String provisionedBy(String database, TestKeel.CatalogServerDatabase catalog) throws Exception {
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
            return Pg.scalar(connection, "select node from operations where kind = 'provision' and database_id = '" + database + "'");
        }
    }

    /** The port of the server a pooled session lands on; -1 while the pool does not take it. */
    private static int pooledServerPort(String pooled, TestKeel node) {
        try (Connection connection = Pg.connectPooled(pooled, node.caFile())) {
            return Integer.parseInt(Pg.scalar(connection, "select inet_server_port()"));
        } catch (SQLException e) {
            return -1;
        }
    }

    /** How many lock requests wait on the server {@code connection} is a session of. */
    private static int waitingLocks(Connection connection) {
        try {
            return Integer.parseInt(Pg.scalar(connection, "select count(*) from pg_locks where not granted"));
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Asks {@code asked} for a switchover of {@code database}, waits for it to succeed, and returns the node that ran it. */
    private static String switchOver(Api asked, String database) {
        Api.Response switched = asked.post("/v1/databases/" + database + "/failover", "");
        assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
        String switchover = switched.field("operation_id");
        Wait.until("the switchover to end", Timeouts.SWITCHOVER,
                () -> !"running".equals(asked.get("/v1/operations/" + switchover).field("state")));
        JsonNode switchedOver = asked.get("/v1/operations/" + switchover).json();
        assertThat(switchedOver.get("state").asText()).as(switchedOver.toString()).isEqualTo("succeeded");
        return switchedOver.get("node").asText();
    }

    private static String catalogScalar(String sql, TestKeel.CatalogServerDatabase catalog) {
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
            return Pg.scalar(connection, sql);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A team's dataclip runs running and waiting count across the nodes: with 2 running and 8
     * waiting at most (the defaults), six runs asked of A and four of B take them all, held on a
     * table lock, and an eleventh asked of B is refused, though B has only four of its own. Once
     * they end, B runs it.
     */
    private static void assertTeamRunsCountAcrossNodes(Api atA, Api atB, JsonNode database, Path caFile) throws Exception {
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        String clip;
        try (Connection owner = Pg.connect(database.get("url").asText(), caFile); Statement sql = owner.createStatement()) {
            sql.execute("create table held (n int)");
            Api.Response created = atA.post("/v1/dataclips", "{\"title\":\"across nodes\",\"database\":\""
                    + database.get("id").asText() + "\",\"sql\":\"select {{n}}::int as n, (select count(*) from held) as held\","
                    + "\"parameters\":{\"n\":\"0\"},\"timeout_seconds\":60}");
            assertThat(created.status()).as(created.toString()).isEqualTo(201);
            clip = created.field("id");
            owner.setAutoCommit(false);
            sql.execute("lock table held in access exclusive mode");
            HttpClient http = HttpClient.newHttpClient();
            for (int n = 1; n <= 10; n++) {
                Api asked = n <= 6 ? atA : atB;
                // Answered once the lock goes (a run longer than the wait answers as running): not within one request's time.
                held.add(http.sendAsync(asked.request("/v1/dataclips/" + clip + "/refresh?n=" + n).timeout(Timeouts.REQUEST.multipliedBy(4))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()));
            }
            Wait.until("ten runs to be queued or running", Timeouts.REQUEST, () -> {
                int unfinished = 0;
                for (JsonNode version : atA.get("/v1/dataclips/" + clip + "/versions").json()) {
                    for (JsonNode result : version.get("results")) {
                        unfinished += "running".equals(result.get("state").asText()) ? 1 : 0;
                    }
                }
                return unfinished == 10;
            });
            CompletableFuture<HttpResponse<String>> eleventh = http.sendAsync(atB.request("/v1/dataclips/" + clip + "/refresh?n=11")
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            HttpResponse<String> refused;
            try {
                refused = eleventh.get(Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("node-b admitted an eleventh run of the team, which waits on the lock, rather than refuse it");
            }
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
            JsonNode problem = Api.parse(refused.body());
            assertThat(problem.get("type").asText()).isEqualTo("/problems/too-many-runs");
            assertThat(problem.get("detail").asText()).isEqualTo("Your team has 10 dataclip runs running or waiting across Keel's nodes,"
                    + " the most it may (KEEL_DATACLIPS_TEAM_CONCURRENCY 2, KEEL_DATACLIPS_TEAM_QUEUE 8); try again once one has finished.");
            owner.rollback();
        }
        for (CompletableFuture<HttpResponse<String>> answer : held) {
            assertThat(answer.join().statusCode()).isIn(200, 202);
        }
        Api.Response later = atB.post("/v1/dataclips/" + clip + "/refresh?n=11", "");
        assertThat(later.status()).as(later.toString()).isIn(200, 202);
    }

    private static void catalogUpdate(String sql, TestKeel.CatalogServerDatabase catalog) throws Exception {
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password());
             Statement statement = connection.createStatement()) {
            assertThat(statement.executeUpdate(sql)).isEqualTo(1);
        }
    }

    private static String startedAt(String operation, TestKeel.CatalogServerDatabase catalog) throws Exception {
        try (Connection connection = DriverManager.getConnection(catalog.jdbcUrl(), catalog.user(), catalog.password())) {
            return Pg.scalar(connection, "select coalesce(started_at::text, 'never') from operations where id = '" + operation + "'");
        }
    }
}
