package dev.keel.archive;

import dev.keel.testing.Superuser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.postgres.Lsn;
import dev.keel.storage.EmbeddedS3;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The object store stops answering (S3Proxy is SIGSTOPped) while the database takes writes:
 * Postgres keeps its WAL, /archive shows the lag growing and why, and once the store answers
 * again every segment is uploaded, with no gap.
 */
class ArchiveOutageTest {
    private static final int SPOOL_MAX = 2;
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        // No timed switches (archive_timeout): the spool ships a file when the test switches, and only then.
        keel = TestKeel.start("archive-outage", Map.of("keel.archive.spool-max-files", SPOOL_MAX, "keel.instances.pool.size", 0,
                "keel.archive.timeout", "3600s"));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void nothingIsLostWhileTheObjectStoreIsDownAndEverythingArrivesAfter() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        awaitInitialBackup(api, id);
        String url = database.get("url").asText();
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong rows = new AtomicLong();
        Thread load = new Thread(() -> {
            try (Connection connection = Pg.connect(url, keel.caFile()); var sql = connection.createStatement()) {
                sql.execute("create table load (n bigint, payload text)");
                while (writing.get()) {
                    rows.addAndGet(sql.executeUpdate("insert into load select g, md5(g::text) || md5((g + 1)::text) from generate_series(1, 20000) g"));
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "write-load");
        load.start();
        long pid = keel.bean(EmbeddedS3.class).process().pid();
        dev.keel.testing.Footprint.signal("STOP", pid);
        try {
            JsonNode failing = Wait.until("archiving to report the stalled hand-off", Timeouts.PROVISION, () -> {
                JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
                boolean stalled = "failing".equals(a.get("status").asText()) && a.get("waiting_files").asInt() == SPOOL_MAX;
                return stalled ? Optional.of(a) : Optional.empty();
            });
            assertThat(failing.get("message").asText()).startsWith("The server cannot hand WAL to Keel (last tried ")
                    .endsWith(SPOOL_MAX + " files wait for upload (at most " + SPOOL_MAX + "). It keeps its WAL until they are uploaded.");
            long lagBefore = failing.get("lag_bytes").asLong();
            Wait.until("the lag to keep growing", Timeouts.PROVISION,
                    () -> api.get("/v1/databases/" + id + "/archive").json().get("lag_bytes").asLong() > lagBefore + 16L * 1024 * 1024);
            Wait.until("the lag in seconds to grow", Timeouts.PROVISION,
                    () -> api.get("/v1/databases/" + id + "/archive").json().get("lag_seconds").asLong() >= 2);
            assertThat(readyToArchive(id)).as("segments Postgres keeps for archiving").isPositive();
        } finally {
            dev.keel.testing.Footprint.signal("CONT", pid);
            writing.set(false);
            load.join(Duration.ofMinutes(1).toMillis());
        }
        assertThat(rows.get()).isPositive();

        dev.keel.testing.ArchiveWaits.switchAndAwaitArchived(keel, id);
        JsonNode recovered = Wait.until("archiving to catch up", Timeouts.PROVISION, () -> {
            JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
            boolean caughtUp = "ok".equals(a.get("status").asText()) && a.get("waiting_files").asInt() == 0 && readyToArchive(id) == 0;
            return caughtUp ? Optional.of(a) : Optional.empty();
        });
        assertThat(recovered.get("gaps")).isEmpty();
        assertThat(recovered.get("message").isNull()).isTrue();
        // Every segment from the first backup's to the newest is in the archive.
        var files = keel.bean(ArchiveRepository.class).files(UUID.fromString(id)).stream()
                .filter(f -> f.file().kind() == dev.keel.postgres.WalFileName.Kind.SEGMENT)
                .map(f -> f.file().segment().orElseThrow().number()).sorted().toList();
        assertThat(files.get(files.size() - 1) - files.get(0) + 1).isEqualTo(files.size());

        // Each path clears only its own failure. A stream's, found while the spool ships (the stream's own failing store
        // would say it again; here it is the failure a stopped stream left), stays when the spool ships a file...
        ArchiveRepository archive = keel.bean(ArchiveRepository.class);
        UUID databaseId = UUID.fromString(id);
        String streamFailure = "The object store does not take streamed WAL: a store the stopped stream never finished.";
        awaitStreamed(api, id, write(url)); // the stream stores already: its first part does not clear what follows
        archive.fail(databaseId, ArchiveRepository.Cause.WAL_STREAM, streamFailure);
        shipThroughTheSpool(id, url);
        assertFailing(api, id, streamFailure);
        // ...and the stream that takes the slot next clears it with its first stored part.
        restartStream(id, url);
        JsonNode cleared = Wait.until("the next stream to clear the failure it inherited", Timeouts.PROVISION, () -> {
            JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
            return "ok".equals(a.get("status").asText()) ? Optional.of(a) : Optional.empty();
        });
        assertThat(cleared.get("message").isNull()).as(cleared.toString()).isTrue();

        // A failure the spool's uploads found stays while the stream stores, and clears once the spool ships a file
        // (whichever node's archiver found it: this one did not).
        String spoolFailure = "The object store does not take WAL: a failure the spool's uploads found.";
        archive.fail(databaseId, ArchiveRepository.Cause.SPOOL_UPLOAD, spoolFailure);
        awaitStreamed(api, id, restartStream(id, url));
        assertFailing(api, id, spoolFailure);
        shipThroughTheSpool(id, url);
        Wait.until("the spool's next file to clear its failure", Timeouts.PROVISION,
                () -> "ok".equals(api.get("/v1/databases/" + id + "/archive").json().get("status").asText()));
        api.deprovision(id);
    }

    /**
     * Writes, switches to a new segment, and waits until archive_command handed the old one off and
     * the spool shipped it, its archiver's status update included.
     */
    private static void shipThroughTheSpool(String id, String url) throws Exception {
        write(url);
        dev.keel.testing.ArchiveWaits.switchAndAwaitArchived(keel, id);
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        Wait.until("the spool to ship the switched segment", Timeouts.PROVISION,
                () -> readyToArchive(id) == 0 && keel.bean(InstanceRuntime.class).spooledWal(primary).isEmpty());
        keel.bean(WalArchiver.class).quiesce(UUID.fromString(id));
    }

    /** Writes a row; where the WAL ends after it. */
    private static Lsn write(String url) throws SQLException {
        try (Connection connection = Pg.connect(url, keel.caFile()); var sql = connection.createStatement()) {
            sql.execute("insert into load values (0, 'a row of the status checks')");
            return Lsn.parse(Pg.scalar(connection, "select pg_current_wal_lsn()"));
        }
    }

    private static void awaitStreamed(Api api, String id, Lsn written) {
        Wait.until("the stream to store what was written", Timeouts.PROVISION, () -> {
            JsonNode receiver = api.get("/v1/databases/" + id + "/archive").json().get("receiver");
            return !receiver.get("streamed_lsn").isNull() && !written.isAfter(Lsn.parse(receiver.get("streamed_lsn").asText()));
        });
    }

    private static void assertFailing(Api api, String id, String message) {
        JsonNode stands = api.get("/v1/databases/" + id + "/archive").json();
        assertThat(stands.get("status").asText()).as(stands.toString()).isEqualTo("failing");
        assertThat(stands.get("message").asText()).isEqualTo(message);
    }

    /** Ends the WAL receiver's replication session (it starts a new stream from its slot), then writes; where the WAL ends. */
    private static Lsn restartStream(String id, String url) throws Exception {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            Wait.until("the WAL receiver's session to be ended", Timeouts.PROVISION, () -> {
                try {
                    return Pg.scalar(connection, "select count(pg_terminate_backend(active_pid)) from pg_replication_slots"
                            + " where slot_name = '" + WalReceivers.SLOT + "' and active_pid is not null").equals("1");
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
        }
        return write(url);
    }

    private static long readyToArchive(String id) {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            return Long.parseLong(Pg.scalar(connection, "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'"));
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
