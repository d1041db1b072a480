package dev.keel.replication;

import dev.keel.testing.Superuser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BackupRepository;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import org.jooq.Condition;
import org.jooq.DSLContext;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.instances.ReplicationSlots;
import dev.keel.nodes.NodeHeartbeat;
import dev.keel.nodes.ThisNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.HaDecisions;
import dev.keel.testing.Pg;
import dev.keel.testing.SlotLoss;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Tools;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.Footprint.signal;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * High availability end to end, with real processes: a postmaster killed is restarted in place, a
 * hung one ({@code SIGSTOP}) is failed over and stays fenced across a Keel restart, a follower
 * keeps following across its leader's failover (and one that received more than the new primary
 * has is rebuilt), a lagging standby is not failed over to, a planned switchover loses no
 * committed row, and one that does not happen leaves the primary serving its clients again.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(1)
class HaTest {
    private static final Duration HA_READY = Duration.ofSeconds(120);
    private static final Duration FAILOVER = Duration.ofSeconds(60);
    /** KEEL_HA_PROMOTE_WAIT: well above a promotion's seconds on a loaded machine, well below the default minute. */
    private static final Duration PROMOTE_WAIT = Duration.ofSeconds(10);
    /**
     * KEEL_HA_SYNC_GRACE: what a commit waits for a hung standby before the primary goes on without it, and a sixth of the
     * hold-off before commits wait again; short, as StreamingArchiveTest's, so that the tests wait seconds for it, not half a minute.
     */
    private static final Duration SYNC_GRACE = Duration.ofSeconds(2);
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        // Every test waits for its database's first backup and the standby built from it, and some for a second standby after a
        // failover: the first backup starts a second after the database is available (not the default 5 s), and a standby is
        // asked for again 5 s after the last build began (not the default minute, which a failover within a minute of the first
        // build waited out whole).
        keel = TestKeel.start("ha", Map.of("keel.instances.pool.size", 0, "keel.followers.check-interval", "2s",
                "keel.ha.promote-wait", PROMOTE_WAIT.toSeconds() + "s", "keel.ha.sync-grace", SYNC_GRACE.toSeconds() + "s",
                "keel.archive.first-backup-delay", "1s", "keel.ha.standby-retry", "5s"));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void aKilledPostmasterIsRestartedInPlace() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table kept (n int)");
            sql.execute("insert into kept values (1)");
        }
        long pid = postmasterPid(primary(id));
        signal("KILL", pid);
        JsonNode decision = awaitDecision(api, id, "restart_in_place");
        assertThat(decision.get("sentence").asText())
                .isEqualTo("restarting the primary in place: its postmaster is gone and its data directory is intact");
        assertThat(api.get("/v1/operations/" + decision.get("operation_id").asText()).field("step"))
                .isEqualTo("restarted in place: " + decision.get("sentence").asText());
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1");
        }
        assertThat(api.get("/v1/databases/" + id).field("url")).isEqualTo(url);
        api.deprovision(id);
    }

    /** While another actor holds the database's lease (its work stops servers on purpose), the monitor neither counts nor acts. */
    @Test
    void theMonitorLeavesADatabaseAloneWhileAnotherActorHoldsItsLease() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        Instance primary = primary(id);
        DatabaseLeases leases = keel.bean(DatabaseLeases.class);
        // Keel's own work on the new database (its standby's build) may hold the lease a while first.
        try (DatabaseLeases.Lease other = Wait.until("the database's lease to be free", Timeouts.RESTORE,
                () -> leases.tryAcquire(primary.databaseId(), "a test standing for a plan change"))) {
            signal("KILL", postmasterPid(primary));
            Thread.sleep(5_000); // five checks' worth
            assertThat(keel.bean(InstanceRuntime.class).isRunning(primary)).isFalse();
            assertThat(api.get("/v1/databases/" + id + "/ha").json().get("decisions")).isEmpty();
        }
        JsonNode decision = awaitDecision(api, id, "restart_in_place");
        assertThat(decision.get("sentence").asText())
                .isEqualTo("restarting the primary in place: its postmaster is gone and its data directory is intact");
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
        }
        assertThat(leases.holder(primary.databaseId())).isEmpty();
        api.deprovision(id);
    }

    /**
     * A node whose catalog contact is older than half of T_fence acts on no database: other nodes
     * may soon count it lost, and fenced. Its contact is held off here by a lock on its node's row,
     * which its heartbeat's update waits a second for and gives up; once the lock goes, it acts.
     */
    @Test
    void theMonitorActsOnlyWhileItsNodesCatalogContactIsFresh() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        awaitHaAvailable(api, id);
        Instance primary = primary(id);
        NodeHeartbeat heartbeat = keel.bean(NodeHeartbeat.class);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Void> holding = CompletableFuture.runAsync(() -> keel.bean(DSLContext.class).transaction(tx -> {
            tx.dsl().execute("select 1 from nodes where name = ? for update", keel.bean(ThisNode.class).name());
            release.await();
        }));
        try {
            Wait.until("the node's catalog contact to be older than half of T_fence", Duration.ofSeconds(15),
                    () -> heartbeat.sinceCatalogContact().compareTo(Duration.ofMillis(1200)) > 0);
            signal("KILL", postmasterPid(primary));
            Thread.sleep(4_000); // four checks' worth, the contact stale throughout
            assertThat(heartbeat.sinceCatalogContact()).isGreaterThan(Duration.ofSeconds(4));
            assertThat(keel.bean(InstanceRuntime.class).isRunning(primary)).isFalse();
            assertThat(api.get("/v1/databases/" + id + "/ha").json().get("decisions")).isEmpty();
        } finally {
            release.countDown();
            holding.get(30, TimeUnit.SECONDS);
        }
        assertThat(awaitDecision(api, id, "restart_in_place").get("sentence").asText())
                .isEqualTo("restarting the primary in place: its postmaster is gone and its data directory is intact");
        api.deprovision(id);
    }

    @Test
    void aHungPrimaryFailsOverWithEveryReplicatedRowStaysFencedAndItsFollowerFollows() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        String followerId = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}").field("id");
        String followerUrl = api.awaitAvailable(followerId, Timeouts.RESTORE).get("url").asText();
        int acknowledged = 0;
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table acked (n int primary key)");
            for (int n = 1; n <= 300; n++) {
                sql.execute("insert into acked values (" + n + ")");
                acknowledged = n;
            }
        }
        // The rows that had reached the standby when the fault struck: here, all of them.
        Wait.until("the standby to have received every acknowledged row", Duration.ofSeconds(30),
                () -> Long.valueOf(0).equals(standbyLag(api, id)));
        // The URLs that list every server that can be the primary: the primary first, then the standby.
        JsonNode view = api.get("/v1/databases/" + id).json();
        String failoverUrl = view.get("failover_url").asText();
        String failoverJdbc = view.get("failover_jdbc_url").asText();
        Instance old = primary(id);
        Instance standby = keel.bean(InstanceRepository.class).standby(old.databaseId()).orElseThrow();
        assertThat(failoverUrl).contains(":" + old.port() + "," + "127.0.0.1:" + standby.port() + "/")
                .endsWith("?sslmode=require&target_session_attrs=read-write");
        assertThat(failoverJdbc).startsWith("jdbc:postgresql://127.0.0.1:" + old.port() + ",127.0.0.1:" + standby.port() + "/")
                .endsWith("&sslmode=require&targetServerType=primary");
        // An app that asks for it has the failover URL as its DATABASE_URL; a follower cannot become a primary, so has none.
        String app = "ha-app-" + UUID.randomUUID().toString().substring(0, 8);
        assertThat(api.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(201);
        Api.Response attached = api.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + id + "\",\"url\":\"failover\"}");
        assertThat(attached.status()).as(attached.toString()).isEqualTo(201);
        assertThat(attached.field("url")).isEqualTo("failover");
        assertThat(api.get("/v1/apps/" + app + "/config-vars").json().get("DATABASE_URL").asText()).isEqualTo(failoverUrl);
        Api.Response followerFailover = api.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + followerId + "\",\"url\":\"failover\"}");
        assertThat(followerFailover.status()).isEqualTo(422);
        assertThat(followerFailover.field("detail")).contains("is a follower");
        long pid = postmasterPid(old);
        long stoppedAt = System.nanoTime();
        signal("STOP", pid);

        String newUrl = Wait.until("the database's url to name a new primary", FAILOVER, () -> {
            String now = api.get("/v1/databases/" + id).field("url");
            return now != null && !now.equals(url) ? Optional.of(now) : Optional.empty();
        });
        try (Connection connection = Pg.connect(newUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("insert into acked values (1000)");
            double seconds = (System.nanoTime() - stoppedAt) / 1e9;
            System.out.printf("SIGSTOP to first write through the new url: %.1f s%n", seconds);
            assertThat(Pg.scalar(connection, "select count(*) from acked where n <= " + acknowledged)).isEqualTo(Integer.toString(acknowledged));
        }
        // A client that kept the failover URLs from before writes to the new primary without being told anything: libpq
        // (psql) skips the fenced server and keeps the writable one, pgjdbc likewise, both verifying the server's certificate.
        String verified = "sslmode=verify-full&sslrootcert=" + keel.caFile();
        Process psql = new ProcessBuilder(Tools.require("psql", "postgresql-client").toString(),
                failoverUrl.replace("sslmode=require", verified), "-Atc", "insert into acked values (2000) returning pg_is_in_recovery()")
                .redirectErrorStream(true).start();
        String said = new String(psql.getInputStream().readAllBytes()).strip();
        assertThat(psql.waitFor()).as(said).isZero();
        assertThat(said).startsWith("f");
        try (Connection connection = DriverManager.getConnection(failoverJdbc.replace("sslmode=require", verified))) {
            assertThat(Pg.scalar(connection, "insert into acked values (2001) returning inet_server_port()"))
                    .isEqualTo(Integer.toString(standby.port()));
        }
        JsonNode decision = awaitDecision(api, id, "fail_over");
        assertThat(decision.get("sentence").asText()).startsWith("failing over because the primary missed 3 checks and the standby is 0"
                + " bytes behind (it does not answer: ");
        JsonNode operation = api.get("/v1/operations/" + decision.get("operation_id").asText()).json();
        assertThat(operation.get("kind").asText()).isEqualTo("failover");
        assertThat(operation.get("state").asText()).isEqualTo("succeeded");
        assertThat(operation.get("step").asText()).isEqualTo("failed over: " + decision.get("sentence").asText());

        // The old primary was killed and is fenced: it never serves again, also after Keel restarts.
        assertThat(keel.bean(InstanceRuntime.class).isRunning(old)).isFalse();
        assertThat(instance(old.id()).state()).isEqualTo(InstanceState.FENCED);
        assertThat(Files.exists(dataDir(old).resolve("standby.signal"))).isTrue();
        keel.stopControlPlane();
        keel.startControlPlane();
        Api again = keel.api();
        assertThat(keel.bean(InstanceRuntime.class).isRunning(old)).isFalse();
        assertThat(instance(old.id()).state()).isEqualTo(InstanceState.FENCED);
        assertThat(again.get("/v1/databases/" + id).field("url")).isEqualTo(newUrl);

        // The follower follows the new primary across the timeline switch.
        try (Connection connection = Pg.connect(newUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("insert into acked values (1001)");
        }
        try (Connection connection = Pg.connect(followerUrl, keel.caFile())) {
            Wait.until("the follower to have the new primary's row", FAILOVER,
                    () -> "1".equals(quietScalar(connection, "select count(*) from acked where n = 1001")));
        }
        assertThat(keel.bean(DSLContext.class).fetchCount(OPERATIONS, OPERATIONS.DATABASE_ID.eq(UUID.fromString(followerId))
                .and(OPERATIONS.KIND.eq(OperationKind.REBUILD.value()))))
                .as("the follower followed across the failover without being rebuilt").isZero();
        // And the database gets a new standby.
        awaitHaAvailable(again, id);
        // The app's failover URL now lists the new primary, then the new standby.
        String nowFailover = again.get("/v1/databases/" + id).field("failover_url");
        assertThat(nowFailover).contains("127.0.0.1:" + standby.port() + ",127.0.0.1:")
                .isEqualTo(again.get("/v1/apps/" + app + "/config-vars").json().get("DATABASE_URL").asText());
        again.deprovision(followerId);
        again.deprovision(id);
    }

    @Test
    void aPrimaryWhoseDataDirectoryIsGoneIsFailedOverAndItsProcessesKilledAndAPromotionThatStalledIsFinished() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        Instance old = primary(id);
        long pid = postmasterPid(old);
        // The standby's startup process stopped: it cannot promote until it goes on.
        Instance standby = keel.bean(InstanceRepository.class).standby(UUID.fromString(id)).orElseThrow();
        long startup;
        try (Connection connection = Superuser.connect(keel, standby, "postgres")) {
            startup = Long.parseLong(Pg.scalar(connection, "select pid from pg_stat_activity where backend_type = 'startup'"));
        }
        signal("STOP", startup);
        Instant firstTry;
        try {
            // The server may write into its directory (pg_wal/archive_status) while it is removed: remove until it is gone.
            Wait.until("the primary's data directory to be removed", Duration.ofSeconds(10), () -> {
                try {
                    dev.keel.FileTrees.delete(dataDir(old));
                    return true;
                } catch (java.io.UncheckedIOException e) {
                    return false;
                }
            });
            JsonNode decision = awaitDecision(api, id, "fail_over");
            assertThat(decision.get("sentence").asText()).startsWith("failing over because the primary missed 3 checks")
                    .endsWith("(its data directory is gone or damaged)");
            // The promotion does not finish within KEEL_HA_PROMOTE_WAIT: the failover stops and says so, the old primary
            // fenced, and nothing serves the database's URL as its primary meanwhile.
            String failover = decision.get("operation_id").asText();
            JsonNode stopped = Wait.until("the failover to stop", FAILOVER, () -> {
                JsonNode op = api.get("/v1/operations/" + failover).json();
                return "running".equals(op.get("state").asText()) ? Optional.empty() : Optional.of(op);
            });
            assertThat(stopped.get("state").asText()).as(stopped.toString()).isEqualTo("failed");
            assertThat(stopped.get("error").asText()).contains("did not finish promoting within " + PROMOTE_WAIT.toSeconds() + " seconds");
            assertThat(instance(old.id()).state()).isEqualTo(InstanceState.FENCED);
            assertThat(keel.bean(InstanceRepository.class).primary(UUID.fromString(id))).isEmpty();
            // The monitor's next round finishes what the failover began, as an operation of its own; still stalled, that
            // stops too, and the next try waits out a backoff (15 s) instead of adding an operation every round.
            JsonNode retried = awaitDecision(api, id, "finish_promotion");
            assertThat(retried.get("sentence").asText()).contains("a failover fenced its old primary but stopped");
            firstTry = Instant.parse(retried.get("at").asText());
            JsonNode failedAgain = api.get("/v1/operations/" + retried.get("operation_id").asText()).json();
            assertThat(failedAgain.get("state").asText()).as(failedAgain.toString()).isEqualTo("failed");
            Condition failovers = OPERATIONS.DATABASE_ID.eq(UUID.fromString(id)).and(OPERATIONS.KIND.eq(OperationKind.FAILOVER.value()));
            assertThat(keel.bean(DSLContext.class).fetchCount(OPERATIONS, failovers)).isEqualTo(2);
            Thread.sleep(8_000); // eight rounds of the monitor
            assertThat(keel.bean(DSLContext.class).fetchCount(OPERATIONS, failovers)).as("tries while backing off").isEqualTo(2);
        } finally {
            signal("CONT", startup);
        }
        // Going on, the standby leaves recovery (the stopped try's request goes through), and the monitor finishes the
        // promotion without waiting out the backoff.
        JsonNode finished = HaDecisions.await(api, id, "finish_promotion", firstTry, FAILOVER);
        assertThat(api.get("/v1/operations/" + finished.get("operation_id").asText()).field("state")).isEqualTo("succeeded");
        Wait.until("the finished promotion to have a primary", FAILOVER, () -> keel.bean(InstanceRepository.class)
                .primary(UUID.fromString(id)).filter(p -> p.id().equals(standby.id())).isPresent());
        String newUrl = api.get("/v1/databases/" + id).field("url");
        assertThat(newUrl).isNotEqualTo(url);
        try (Connection connection = Pg.connect(newUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table after (n int)");
        }
        // The postmaster that lost its directory was found by its command line and killed, with its children.
        Wait.until("the old postmaster to be gone", Duration.ofSeconds(10), () -> !isLive(pid));
        assertThat(instance(old.id()).state()).isEqualTo(InstanceState.FENCED);
        api.deprovision(id);
    }

    @Test
    void aFailoverKeelStoppedDuringIsFinishedAtTheNextStart() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        dev.keel.databases.Database database = keel.bean(dev.keel.databases.DatabaseLookup.class).find(UUID.fromString(id)).orElseThrow();
        Instance old = primary(id);
        Instance standby = keel.bean(InstanceRepository.class).standby(database.id()).orElseThrow();
        // Keel "stops" right after fencing: the old primary is fenced and killed, the standby not yet promoted.
        dev.keel.operations.OperationRepository operations = keel.bean(dev.keel.operations.OperationRepository.class);
        dev.keel.operations.Operation failover = keel.bean(org.jooq.DSLContext.class).transactionResult(tx -> operations.create(tx.dsl(),
                database.teamId(), database.id(), dev.keel.operations.OperationKind.FAILOVER, Failover.Step.FENCING,
                "a sentence a newer Keel reworded", 6));
        keel.bean(InstanceRepository.class).transition(old.id(), InstanceState.FENCED);
        keel.bean(InstanceRuntime.class).fence(old);
        keel.stopControlPlane();
        keel.startControlPlane();
        Api again = keel.api();
        JsonNode done = Wait.until("the interrupted failover to finish", FAILOVER, () -> {
            JsonNode op = again.get("/v1/operations/" + failover.id()).json();
            return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
        });
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("step").asText()).isEqualTo("finished the failover Keel stopped during");
        String newUrl = again.get("/v1/databases/" + id).field("url");
        assertThat(Pg.port(newUrl)).isEqualTo(standby.port());
        try (Connection connection = Pg.connect(newUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table after_restart (n int)");
        }
        assertThat(keel.bean(InstanceRuntime.class).isRunning(old)).isFalse();
        assertThat(url).isNotEqualTo(newUrl);
        again.deprovision(id);
    }

    /**
     * A backup of the primary is running when the primary hangs: the failover finishes all the same,
     * and once that backup has ended (as it does when its server is gone) the monitor takes the
     * new timeline's backup and builds the next standby from it. The running backup is put in the
     * catalog as Keel records one, so that it is still running whatever the timing.
     */
    @Test
    void aFailoverDuringABackupOfTheOldPrimaryFinishesAndTheNewTimelineIsBackedUpOnceThatBackupEnds() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        UUID databaseId = UUID.fromString(id);
        Database database = keel.bean(DatabaseLookup.class).find(databaseId).orElseThrow();
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        Operation backup = catalog.transactionResult(tx -> operations.create(tx.dsl(), database.teamId(), databaseId, OperationKind.BACKUP,
                "copying files", 1));
        catalog.insertInto(BACKUPS).set(BACKUPS.ID, UUID.randomUUID()).set(BACKUPS.DATABASE_ID, databaseId)
                .set(BACKUPS.OPERATION_ID, backup.id()).set(BACKUPS.KIND, BackupKind.MANUAL.value()).set(BACKUPS.STATE, "running").execute();
        BackupRepository backups = keel.bean(BackupRepository.class);
        int oldTimeline = backups.completed(databaseId).stream().mapToInt(b -> b.timeline().value()).max().orElseThrow();

        Instance old = primary(id);
        signal("STOP", postmasterPid(old));
        Wait.until("the database's url to name a new primary", FAILOVER, () -> {
            String now = api.get("/v1/databases/" + id).field("url");
            return now != null && !now.equals(url) ? Optional.of(now) : Optional.empty();
        });
        JsonNode decision = awaitDecision(api, id, "fail_over");
        JsonNode failover = api.get("/v1/operations/" + decision.get("operation_id").asText()).json();
        assertThat(failover.get("state").asText()).as(failover.toString()).isEqualTo("succeeded");
        assertThat(failover.get("step_code").asText()).isEqualTo("backup");
        // While the old primary's backup runs, none of the new timeline is started beside it.
        Thread.sleep(3_000);
        assertThat(operations.running(databaseId, EnumSet.of(OperationKind.BACKUP)).map(Operation::id)).contains(backup.id());

        catalog.update(BACKUPS).set(BACKUPS.STATE, "failed").set(BACKUPS.ERROR, "its server was fenced")
                .where(BACKUPS.OPERATION_ID.eq(backup.id())).execute();
        operations.fail(backup.id(), "its server was fenced");
        Wait.until("a completed backup of the new timeline", Timeouts.RESTORE, () -> backups.completed(databaseId).stream()
                .anyMatch(b -> b.timeline().value() > oldTimeline));
        awaitHaAvailable(api, id);
        api.deprovision(id);
    }

    /**
     * A premium commit is acknowledged only once the standby has it; a hung standby holds commits
     * back for at most the grace ({@link #SYNC_GRACE}) before the primary goes on without it,
     * degraded, and synchronous commit returns once the standby streams again.
     */
    @Test
    void premiumCommitsWaitForTheStandbyAndAHungStandbyHoldsThemBackAtMostTheGrace() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        Wait.until("commits to wait for the standby", Duration.ofSeconds(30), () -> synchronous(api, id));
        Instance standby = keel.bean(InstanceRepository.class).standby(UUID.fromString(id)).orElseThrow();
        try (Connection connection = Superuser.connect(keel, primary(id), "postgres")) {
            assertThat(Pg.scalar(connection, "show synchronous_standby_names"))
                    .isEqualTo("\"" + ReplicationSlots.forStandby(UUID.fromString(id)) + "\"");
        }
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table synced (n int)");
            long started = System.nanoTime();
            sql.execute("insert into synced values (1)");
            System.out.printf("a synchronous commit with a healthy standby: %.1f ms%n", (System.nanoTime() - started) / 1e6);

            long receiver = walReceiverPid(standby);
            signal("STOP", receiver);
            try {
                started = System.nanoTime();
                sql.execute("insert into synced values (2)");
                double held = (System.nanoTime() - started) / 1e9;
                System.out.printf("a commit while the standby hangs: held back %.1f s%n", held);
                assertThat(held).as("the commit waited for the standby, then went on without it")
                        .isBetween(SYNC_GRACE.toMillis() / 2000.0, SYNC_GRACE.toSeconds() + 5.0);
                JsonNode ha = api.get("/v1/databases/" + id + "/ha").json();
                assertThat(ha.get("status").asText()).startsWith("Degraded: writes are acknowledged before they reach the standby (");
                assertThat(ha.get("synchronous").asBoolean()).isFalse();
                started = System.nanoTime();
                sql.execute("insert into synced values (3)");
                assertThat((System.nanoTime() - started) / 1e9).as("degraded commits do not wait").isLessThan(1.0);
            } finally {
                signal("CONT", receiver);
            }
        }
        // Not before the hold-off after a commit that waited too long (six graces, 12 s) has passed.
        Wait.until("commits to wait for the standby again", Duration.ofSeconds(75), () -> synchronous(api, id));
        awaitHaAvailable(api, id);
        api.deprovision(id);
    }

    @Test
    void aStandbyWhoseSlotThePrimaryInvalidatedIsReplacedAndCommitsWaitForTheNewOne() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        InstanceRepository instances = keel.bean(InstanceRepository.class);
        Instance away = instances.standby(UUID.fromString(id)).orElseThrow();
        String slot = ReplicationSlots.forStandby(UUID.fromString(id));

        // The standby is away while its primary writes past what it keeps for its slot.
        keel.bean(InstanceRuntime.class).stop(away);
        SlotLoss.invalidate(keel, primary(id), slot);

        JsonNode decision = awaitDecision(api, id, "replace_standby");
        assertThat(decision.get("sentence").asText()).startsWith("replacing the standby: its slot on the primary was invalidated"
                + " (wal_status lost)");
        assertThat(api.get("/v1/operations/" + decision.get("operation_id").asText()).field("kind")).isEqualTo("standby");
        awaitHaAvailable(api, id);
        Instance replaced = instances.standby(UUID.fromString(id)).orElseThrow();
        assertThat(replaced.id()).isNotEqualTo(away.id());
        assertThat(instances.forDatabase(UUID.fromString(id))).extracting(Instance::id).doesNotContain(away.id());
        try (Connection connection = Superuser.connect(keel, primary(id), "postgres")) {
            assertThat(Pg.scalar(connection, "select wal_status || ' ' || active from pg_replication_slots where slot_name = '"
                    + slot + "'")).isIn("reserved true", "extended true");
        }
        Wait.until("commits to wait for the new standby", Duration.ofSeconds(75), () -> synchronous(api, id));
        String pgDatabase;
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table after_replacement (n int)");
            sql.execute("insert into after_replacement values (1)");
            pgDatabase = Pg.scalar(connection, "select current_database()");
        }
        try (Connection connection = Superuser.connect(keel, replaced, pgDatabase)) {
            Wait.until("the new standby to replay the row", Duration.ofSeconds(30),
                    () -> "1".equals(quietScalar(connection, "select count(*) from after_replacement")));
        }
        api.deprovision(id);
    }

    private static boolean synchronous(Api api, String id) {
        JsonNode synchronous = api.get("/v1/databases/" + id + "/ha").json().get("synchronous");
        return synchronous != null && synchronous.asBoolean();
    }

    @Test
    void aStandbyTooFarBehindIsNotFailedOverTo() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        Instance standby = keel.bean(InstanceRepository.class).standby(UUID.fromString(id)).orElseThrow();
        long receiver = walReceiverPid(standby);
        signal("STOP", receiver);
        try (Connection connection = Superuser.connect(keel, primary(id), "postgres");
             Statement sql = connection.createStatement()) {
            sql.execute("create table filler (n int)");
            for (int i = 0; i < 12; i++) {
                sql.execute("insert into filler values (" + i + ")");
                sql.execute("select pg_switch_wal()");
            }
        }
        Instance primary = primary(id);
        long pid = postmasterPid(primary);
        // The monitor must have seen the primary's position past the bound before the fault.
        Wait.until("the monitor to see the standby more than 10 segments behind", Duration.ofSeconds(30), () -> {
            Long lag = standbyLag(api, id);
            return lag != null && lag > 10 * 16L * 1024 * 1024;
        });
        signal("STOP", pid);
        try {
            JsonNode decision = awaitDecision(api, id, "refuse");
            assertThat(decision.get("sentence").asText()).startsWith("not failing over although the primary missed 3 checks")
                    .contains("bytes behind, more than the bound of 10 WAL segments (167772160 bytes)");
            assertThat(api.get("/v1/databases/" + id + "/info").text()).contains("Unavailable: not failing over although");
            assertThat(primary(id).id()).isEqualTo(primary.id());
            assertThat(api.get("/v1/databases/" + id).field("url")).isEqualTo(url);
        } finally {
            signal("CONT", pid);
            signal("CONT", receiver);
        }
        Wait.until("the primary to answer again", FAILOVER, () -> {
            try (Connection connection = Pg.connect(url, keel.caFile())) {
                return "1".equals(Pg.scalar(connection, "select 1"));
            } catch (SQLException e) {
                return false;
            }
        });
        api.deprovision(id);
    }

    @Test
    void aPlannedSwitchoverLosesNoCommittedRow() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        awaitHaAvailable(api, id);
        assertThat(api.get("/v1/databases/" + id + "/info").text()).contains("{\"name\":\"HA Status\",\"values\":[\"Available\"]}");
        assertThat(api.get("/v1/databases/" + id).field("ha")).isEqualTo("Available");
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table committed (n int primary key)");
        }
        List<Integer> acknowledged = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            int n = 0;
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                while (writing.get()) {
                    sql.execute("insert into committed values (" + ++n + ")");
                    acknowledged.add(n);
                }
            } catch (SQLException e) {
                // the switchover ends this session; what it acknowledged before is what must survive
            }
        });
        writer.start();
        Wait.until("some rows to be committed", Duration.ofSeconds(30), () -> acknowledged.size() >= 50);
        Api.Response switched = api.post("/v1/databases/" + id + "/failover", "");
        assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
        String operation = switched.field("operation_id");
        JsonNode done = awaitEnd(api, operation, "the switchover to finish");
        writing.set(false);
        writer.join();
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("step").asText()).startsWith("switched over: the standby had received all of the primary's WAL");
        String newUrl = api.get("/v1/databases/" + id).field("url");
        assertThat(newUrl).isNotEqualTo(url);
        try (Connection connection = Pg.connect(newUrl, keel.caFile())) {
            assertThat(Long.parseLong(Pg.scalar(connection, "select count(*) from committed where n = any(array"
                    + acknowledged + "::int[])"))).isEqualTo(acknowledged.size());
        }
        api.deprovision(id);
    }

    @Test
    void aSwitchoverThatCannotReachTheStandbyLeavesThePrimaryServingItsClientsAgain() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        try {
            awaitHaAvailable(api, id);
            String started;
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table kept (n int primary key)");
                sql.execute("insert into kept values (1)");
                started = Pg.scalar(connection, "select pg_postmaster_start_time()::text");
            }
            Instance primary = primary(id);
            // The switchover stops the primary (which lets in only Keel and replication by then), then finds no standby to ask.
            keel.bean(InstanceRuntime.class).stop(keel.bean(InstanceRepository.class).standby(UUID.fromString(id)).orElseThrow());
            Api.Response switched = api.post("/v1/databases/" + id + "/failover", "");
            assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
            String operation = switched.field("operation_id");
            JsonNode done = awaitEnd(api, operation, "the switchover to end");
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("failed");
            assertThat(primary(id).id()).as("the primary").isEqualTo(primary.id());
            assertThat(api.get("/v1/databases/" + id).field("url")).isEqualTo(url);
            // Started again, with its own rules back: the owner gets in, and writes.
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("insert into kept values (2)");
                assertThat(Pg.scalar(connection, "select string_agg(n::text, ',' order by n) from kept")).isEqualTo("1,2");
                assertThat(Pg.scalar(connection, "select pg_postmaster_start_time()::text"))
                        .as("stopped by the switchover, then started again, not a switchover refused before it began").isNotEqualTo(started);
            }
        } finally {
            api.deprovision(id);
        }
    }

    @Test
    void aFollowerAheadOfTheNewPrimaryAfterAFailoverIsRebuiltAndFollowsIt() throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"premium-0\"}");
        String id = db.get("id").asText();
        String url = db.get("url").asText();
        String followerId = null;
        List<Long> stopped = new ArrayList<>();
        long receiver = 0;
        try {
            awaitHaAvailable(api, id);
            followerId = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}").field("id");
            String followerUrl = api.awaitAvailable(followerId, Timeouts.RESTORE).get("url").asText();
            // Committed synchronously: the standby has the table.
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table filler (n int, body text)");
            }
            Instance old = primary(id);
            Instance standby = keel.bean(InstanceRepository.class).standby(old.databaseId()).orElseThrow();

            // The standby's receiver stops; the primary writes more than the sockets between them hold (the commit waits out
            // the grace, then goes on without the standby), and the follower replays all of it.
            receiver = walReceiverPid(standby);
            signal("STOP", receiver);
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("insert into filler select g, repeat(md5(g::text), 30) from generate_series(1, 40000) g");
            }
            try (Connection connection = Pg.connect(followerUrl, keel.caFile())) {
                Wait.until("the follower to have the rows the standby lacks", FAILOVER,
                        () -> "40000".equals(quietScalar(connection, "select count(*) from filler")));
            }
            Wait.until("the monitor to see the standby behind", FAILOVER, () -> {
                Long lag = standbyLag(api, id);
                return lag != null && lag > 16L * 1024 * 1024;
            });
            // Every process of the primary hangs, its walsenders too: the standby gets no more than was in flight.
            stopped.addAll(Footprint.stopServer(postmasterPid(old)));
            signal("CONT", receiver);
            receiver = 0;
            String newUrl = Wait.until("the database's url to name a new primary", FAILOVER, () -> {
                String now = api.get("/v1/databases/" + id).field("url");
                return now != null && !now.equals(url) ? Optional.of(now) : Optional.empty();
            });
            // At least the 3 misses it takes; one more when a check found the database's lease held or the catalog's contact stale.
            assertThat(awaitDecision(api, id, "fail_over").get("sentence").asText())
                    .matches("failing over because the primary missed [3-9] checks and the standby is .*");

            // The follower holds WAL the new primary never had: the watch has it rebuilt from the leader's archive.
            UUID follower = UUID.fromString(followerId);
            DSLContext catalog = keel.bean(DSLContext.class);
            String rebuild = Wait.until("the follower watch to rebuild the diverged follower", Timeouts.FOLLOWER_WATCH,
                    () -> catalog.select(OPERATIONS.ID).from(OPERATIONS).where(OPERATIONS.DATABASE_ID.eq(follower))
                            .and(OPERATIONS.KIND.eq("rebuild")).orderBy(OPERATIONS.CREATED_AT).limit(1).fetchOptional(OPERATIONS.ID))
                    .toString();
            JsonNode operation = Wait.until("the rebuild to finish", Timeouts.RESTORE, () -> {
                JsonNode now = api.get("/v1/operations/" + rebuild).json();
                return "running".equals(now.get("state").asText()) ? Optional.empty() : Optional.of(now);
            });
            assertThat(operation.get("state").asText()).as(operation.toString()).isEqualTo("succeeded");
            assertThat(operation.get("step").asText()).contains("it diverged from its leader " + db.get("name").asText()
                    + ": it replayed timeline 1 to ").contains("where the leader's timeline 2 forked from it");
            try (Connection connection = Pg.connect(newUrl, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("insert into filler values (-1, 'after the failover')");
            }
            String rebuiltUrl = api.get("/v1/databases/" + followerId).field("url");
            try (Connection connection = Pg.connect(rebuiltUrl, keel.caFile())) {
                Wait.until("the rebuilt follower to have the new primary's row", FAILOVER,
                        () -> "1".equals(quietScalar(connection, "select count(*) from filler where n = -1")));
                // What only the old primary had is gone from it: it is the new primary's copy now.
                assertThat(Pg.scalar(connection, "select count(*) from filler")).isEqualTo("1");
            }
        } finally {
            if (receiver != 0) {
                signal("CONT", receiver);
            }
            for (long pid : stopped) {
                new ProcessBuilder("kill", "-CONT", Long.toString(pid)).start().waitFor();
            }
            if (followerId != null) {
                api.deprovision(followerId);
            }
            api.deprovision(id);
        }
    }

    /** The newest HA decision of {@code kind}, once the operation it started (if any) has ended. */
    private static JsonNode awaitDecision(Api api, String id, String kind) {
        return HaDecisions.await(api, id, kind, Instant.EPOCH, FAILOVER);
    }

    /** Operation {@code operation} once it no longer runs. */
    private static JsonNode awaitEnd(Api api, String operation, String what) {
        return Wait.until(what, FAILOVER, () -> {
            JsonNode op = api.get("/v1/operations/" + operation).json();
            return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
        });
    }

    private static void awaitHaAvailable(Api api, String id) {
        awaitInitialBackup(api, id);
        Wait.until("HA status of " + id + " to be Available", HA_READY,
                () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));
    }

    private static Long standbyLag(Api api, String id) {
        JsonNode lag = api.get("/v1/databases/" + id + "/ha").json().get("standby_lag_bytes");
        return lag == null || lag.isNull() ? null : lag.asLong();
    }

    private static Instance primary(String id) {
        return keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
    }

    private static Instance instance(UUID instanceId) {
        return keel.bean(InstanceRepository.class).all().stream().filter(i -> i.id().equals(instanceId)).findFirst().orElseThrow();
    }

    private static Path dataDir(Instance instance) {
        return keel.serverDir().resolve("instances").resolve(instance.id().toString()).resolve("data");
    }

    private static long postmasterPid(Instance instance) throws Exception {
        return Long.parseLong(Files.readAllLines(dataDir(instance).resolve("postmaster.pid")).get(0).strip());
    }

    private static long walReceiverPid(Instance standby) throws SQLException {
        try (Connection connection = Superuser.connect(keel, standby, "postgres")) {
            return Long.parseLong(Pg.scalar(connection, "select pid from pg_stat_wal_receiver"));
        }
    }

    /** Whether {@code pid} runs (a zombie does not). */
    private static boolean isLive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (java.io.IOException e) {
            return false;
        }
    }


    private static String quietScalar(Connection connection, String query) {
        try {
            return Pg.scalar(connection, query);
        } catch (SQLException e) {
            return e.getMessage();
        }
    }
}
