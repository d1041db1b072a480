package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.luben.zstd.ZstdInputStream;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} of Keel while it uploads a WAL segment and while it takes a base backup, with
 * the object store hung so that the kill lands while an upload is in flight: after the restart
 * no partial object counts as complete, the backup is failed and its objects gone, and
 * archiving carries on. And {@code kill -9} of the only Keel while a primary's commits wait for its
 * WAL receiver (synchronous archiving): the fence guard lets them go after the grace.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(10)
class ArchiveCrashIT {
    @Test
    void killNineDuringASegmentUploadLeavesNoPartialObjectAndArchivingResumes() throws Exception {
        Path dataDir = TestKeel.freshDataDir("archive-crash-wal");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        try {
            JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
            String id = database.get("id").asText();
            dev.keel.testing.ArchiveWaits.awaitInitialBackup(keel.api(), id);
            long s3 = Footprint.s3ProxyPid(dataDir);
            Footprint.signal("STOP", s3);
            writeASegment(database, dataDir);
            Api api = keel.api();
            // A segment was handed off a second ago or more: the archiver has it and its upload hangs.
            Wait.until("an upload to hang", Timeouts.PROVISION, () -> {
                JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
                return archive.get("waiting_files").asInt() >= 1 && archive.get("lag_seconds").asLong() >= 1;
            });
            keel.kill9();
            Footprint.signal("CONT", s3);

            keel = KeelProcess.start(dataDir, ports, "1", KeelProcess.NO_POOL);
            Api after = keel.api();
            Wait.until("archiving to catch up", Timeouts.PROVISION, () -> {
                JsonNode archive = after.get("/v1/databases/" + id + "/archive").json();
                return "ok".equals(archive.get("status").asText()) && archive.get("waiting_files").asInt() == 0;
            });
            assertEveryArchivedObjectMatchesItsChecksum(dataDir, id);
            assertThat(after.get("/v1/databases/" + id + "/archive").json().get("gaps")).isEmpty();
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    @Test
    void killNineDuringABackupFailsItRemovesWhatItUploadedAndTheNextOneWorks() throws Exception {
        Path dataDir = TestKeel.freshDataDir("archive-crash-backup");
        TestKeel.Ports ports = TestKeel.nextPorts();
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", KeelProcess.NO_POOL);
        try {
            JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
            String id = database.get("id").asText();
            dev.keel.testing.ArchiveWaits.awaitInitialBackup(keel.api(), id);
            long s3 = Footprint.s3ProxyPid(dataDir);
            Footprint.signal("STOP", s3);
            Api.Response taken = keel.api().post("/v1/databases/" + id + "/backups", "");
            String backup = taken.field("id");
            String operation = taken.field("operation_id");
            Api api = keel.api();
            // The backup cannot finish while the store hangs: once it copies files, it is in the middle.
            Wait.until("the backup to copy files", Timeouts.PROVISION,
                    () -> "copying files".equals(api.get("/v1/operations/" + operation).field("step")));
            keel.kill9();
            Footprint.signal("CONT", s3);

            keel = KeelProcess.start(dataDir, ports, "1", KeelProcess.NO_POOL);
            assertThat(keel.log()).contains("Reconciler decision: GIVE_UP " + operation + ": the backup was interrupted and is marked failed");
            JsonNode failed = keel.api().get("/v1/databases/" + id + "/backups/" + backup).json();
            assertThat(failed.get("state").asText()).isEqualTo("failed");
            assertThat(failed.get("error").asText()).isEqualTo("Keel stopped during this backup (step 'copying files'); nothing of it is kept.");
            assertThat(dataDir.resolve("s3/data/keel/" + id + "/backups/" + backup)).doesNotExist();

            JsonNode next = dev.keel.testing.ArchiveWaits.awaitBackup(keel.api(), id, keel.api().post("/v1/databases/" + id + "/backups", "").field("id"));
            assertThat(next.get("state").asText()).isEqualTo("completed");
            writeASegment(database, dataDir);
            Api after = keel.api();
            Wait.until("archiving to carry on", Timeouts.PROVISION,
                    () -> after.get("/v1/databases/" + id + "/archive").json().get("waiting_files").asInt() == 0);
            assertEveryArchivedObjectMatchesItsChecksum(dataDir, id);
        } finally {
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    @Test
    void killNineOfTheOnlyKeelLetsCommitsThatWaitForItsReceiverGoAfterTheGrace() throws Exception {
        Path dataDir = TestKeel.freshDataDir("archive-crash-sync");
        TestKeel.Ports ports = TestKeel.nextPorts();
        Map<String, String> env = new HashMap<>(KeelProcess.NO_POOL);
        env.put("KEEL_ARCHIVE_SYNCHRONOUS_PLANS", "standard-0");
        env.put("KEEL_HA_SYNC_GRACE", "2s");
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", env);
        ExecutorService committer = Executors.newSingleThreadExecutor();
        try {
            JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
            String id = database.get("id").asText();
            Api api = keel.api();
            dev.keel.testing.ArchiveWaits.awaitInitialBackup(api, id); // its checkpoint does not slow the commits below
            Path watch = dataDir.resolve("fence-guard/watch");
            Wait.until("the fence guard to watch the primary's commits", Timeouts.PROVISION,
                    () -> Files.isRegularFile(dataDir.resolve("fence-guard/guard.pid")) && lists(watch, "let_go.0.standby=keel_wal_receiver"));
            long waited;
            try (Connection tenant = Pg.connect(database.get("url").asText(), dataDir.resolve("ca.pem")); var sql = tenant.createStatement()) {
                sql.execute("create table acknowledged (n int)");
                // Should nothing let the commit go, its statement ends all the same (a cancelled wait), so the test fails, not hangs.
                sql.execute("set statement_timeout = " + Timeouts.LET_GO.plusSeconds(10).toMillis());
                // Commits wait for the receiver now (a commit that waited past the grace on a busy machine holds that off for 6 graces).
                Wait.until("commits to wait for the receiver", Timeouts.PROVISION,
                        () -> api.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false)
                                && "\"keel_wal_receiver\"".equals(synchronousStandbyNames(tenant)));
                // The receiver dies with Keel, and no Keel is left to let the commits go: before the guard did, they waited until
                // Keel was back. Now the guard sees Keel's pulse stop (T_fence/4), and the commit wait past the grace (2 s).
                keel.kill9();
                Future<Long> commit = committer.submit(() -> {
                    long started = System.nanoTime();
                    sql.execute("insert into acknowledged values (1)");
                    return (System.nanoTime() - started) / 1_000_000;
                });
                try {
                    waited = commit.get(Timeouts.LET_GO.toMillis(), TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("a commit still waited for the receiver " + Timeouts.LET_GO.toSeconds() + " s after Keel's"
                            + " kill -9: nothing let it go");
                }
            }
            System.out.printf("ArchiveCrashIT: with Keel killed, a commit that waited for its receiver went on after %d ms%n", waited);
            assertThat(waited).as("a commit while Keel is down").isBetween(2_000L, 15_000L);
            Path guardLog = dataDir.resolve("fence-guard/guard.log");
            Wait.until("the guard to say it let the commits go", Timeouts.LOG_LINE, () -> lettingGo(guardLog) == 1);

            // Keel back: its round makes commits wait for the receiver again once it has caught up, and the guard leaves them.
            keel = KeelProcess.start(dataDir, ports, "1", env);
            Api after = keel.api();
            Wait.until("commits to wait for the receiver again", Timeouts.PROVISION,
                    () -> after.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false));
            // The new Keel's pulse says it watches the primary's commits again: the guard leaves them to it
            // (FenceWatchTest: FenceGuard.keelWatchesCommits), and has not let them go again meanwhile.
            String instance = Files.readAllLines(watch).stream().filter(line -> line.startsWith("let_go.0.instance="))
                    .map(line -> line.substring("let_go.0.instance=".length())).findFirst().orElseThrow();
            Wait.until("Keel's pulse to say it watches the commits", Timeouts.LOG_LINE,
                    () -> lists(dataDir.resolve("fence-guard/pulse"), "watches_commits." + instance + "=true"));
            assertThat(lettingGo(guardLog)).as("the guard's let-go lines").isEqualTo(1);
        } finally {
            committer.shutdownNow();
            keel.stop();
            dev.keel.Keel.stopServers(dataDir);
            TestKeel.stopFenceGuard(dataDir);
        }
    }

    private static String synchronousStandbyNames(Connection tenant) {
        try {
            return Pg.scalar(tenant, "show synchronous_standby_names");
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long lettingGo(Path guardLog) {
        try {
            return Files.readAllLines(guardLog).stream().filter(line -> line.contains("let the commits of instance")).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static boolean lists(Path file, String line) {
        try {
            return Files.readAllLines(file).contains(line);
        } catch (java.io.IOException e) {
            return false; // not written yet
        }
    }

    /** Writes over 16 MiB of WAL, so that at least one segment is finished and handed off. */
    private static void writeASegment(JsonNode database, Path dataDir) throws Exception {
        try (Connection connection = Pg.connect(database.get("url").asText(), dataDir.resolve("ca.pem")); var sql = connection.createStatement()) {
            sql.execute("create table if not exists filler (payload text)");
            sql.execute("insert into filler select md5(g::text) || md5((g * 7)::text) from generate_series(1, 300000) g");
        }
    }

    /** Every object the catalog counts as archived decompresses to the bytes whose sha256 the catalog holds. */
    private static void assertEveryArchivedObjectMatchesItsChecksum(Path dataDir, String id) throws Exception {
        int checked = 0;
        try (Connection catalog = Footprint.catalog(dataDir);
             var query = catalog.prepareStatement("select name, sha256 from archived_wal where database_id = ?::uuid")) {
            query.setString(1, id);
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    Path object = dataDir.resolve("s3/data/keel/" + id + "/wal/" + rows.getString(1) + ".zst");
                    try (InputStream in = new ZstdInputStream(Files.newInputStream(object))) {
                        assertThat(Sha256.of(in.readAllBytes())).as(rows.getString(1)).isEqualTo(rows.getString(2));
                    }
                    checked++;
                }
            }
        }
        assertThat(checked).isPositive();
    }
}
