package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceConfig;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.ReplicationSession;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.EmbeddedS3;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import javax.sql.DataSource;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The WAL receiver: under load, what the primary flushed is in the object store within a second
 * and /archive says so; a receiver whose connection is cut mid-segment resumes from its slot with
 * no gap, and a segment both paths deliver is stored once.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(4)
class StreamingArchiveTest {
    /** How often /archive is sampled. */
    private static final long SAMPLE_MILLIS = 100;
    /** How long the load runs while sampled. */
    private static final Duration LOADED = Duration.ofSeconds(20);
    /** The receiver's bound: what the primary flushed is in the store within this. */
    private static final Duration BOUND = Timeouts.STREAMED;
    /** The steady load's pace: one statement at most every this many milliseconds. */
    private static final long STATEMENT_MILLIS = 50;
    private static final String SYNCHRONOUS_PLAN = "essential-0";
    /** How long the store stays stopped once a catch-up has begun: more than the 5 s after which a lag reads "behind". */
    private static final Duration STORE_HELD = Duration.ofSeconds(6);
    /**
     * How long a fault the receiver cannot see is held (its walsender stopped: the link says nothing, and the store may hang
     * meanwhile): longer than reads that find nothing are apart.
     */
    private static final Duration SILENCE_HELD = Duration.ofSeconds(3);
    /** What arrived unstored this long ago is being put: the receiver waits less (keel.archive.stream-upload-millis, 700 ms). */
    private static final Duration PUT_BEGUN = Duration.ofMillis(1500);
    /** Rows of a burst: about 30 MB of WAL, far more than a loopback connection's buffers hold. */
    private static final int BURST_ROWS = 300_000;
    /** How a node of a version before V91 stored a part's row: it knew neither caught_up_at nor caught_up_end_lsn. */
    private static final String OLDER_NODES_UPSERT = "insert into streamed_wal (database_id, instance_id, system_identifier, name,"
            + " timeline, segment_number, end_lsn, size_bytes, stored_bytes, sha256, stored_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + " on conflict (database_id) do update set instance_id = excluded.instance_id, system_identifier = excluded.system_identifier,"
            + " name = excluded.name, timeline = excluded.timeline, segment_number = excluded.segment_number, end_lsn = excluded.end_lsn,"
            + " size_bytes = excluded.size_bytes, stored_bytes = excluded.stored_bytes, sha256 = excluded.sha256,"
            + " stored_at = excluded.stored_at";
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        // essential-0's commits wait for the receiver here; a grace of 2 s holds them off for 12 s after one waited too long.
        // Every test waits for its database's first backup before it acts: that backup starts a second after the database is
        // available, not the default 5 s.
        keel = TestKeel.start("streaming", Map.of("keel.instances.pool.size", 0, "keel.archive.synchronous-plans", SYNCHRONOUS_PLAN,
                "keel.ha.sync-grace", "2s", "keel.archive.first-backup-delay", "1s"));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    private record Sample(long at, Lsn flushed, long lagSeconds, Lsn streamed) {
    }

    @Test
    void underLoadTheStoreIsAtMostASecondBehindThePrimary() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        awaitInitialBackup(api, id);
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread load = load(database.get("url").asText(), writing);
        List<Sample> samples = new ArrayList<>();
        try (Connection superuser = Superuser.connect(keel, primary, "postgres")) {
            Wait.until("the receiver to stream", Timeouts.PROVISION,
                    () -> "streaming".equals(api.get("/v1/databases/" + id + "/archive").json().get("receiver").get("state").asText()));
            long end = System.currentTimeMillis() + LOADED.toMillis();
            while (System.currentTimeMillis() < end) {
                long at = System.currentTimeMillis();
                Lsn flushed = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
                samples.add(new Sample(at, flushed, archive.get("lag_seconds").asLong(),
                        Lsn.parse(archive.get("receiver").get("streamed_lsn").asText())));
                Thread.sleep(Math.max(0, at + SAMPLE_MILLIS - System.currentTimeMillis()));
            }
        } finally {
            writing.set(false);
            load.join(Timeouts.REQUEST.toMillis());
        }
        assertThat(samples.size()).isGreaterThan((int) (LOADED.toMillis() / SAMPLE_MILLIS / 4));
        long written = samples.get(samples.size() - 1).flushed().bytesSince(samples.get(0).flushed());
        System.out.printf("StreamingArchiveTest: %.1f MB/s of WAL for %d s; lag_seconds max %d%n", written / 1e6 / LOADED.toSeconds(),
                LOADED.toSeconds(), samples.stream().mapToLong(Sample::lagSeconds).max().orElse(0));
        assertThat(written).as("WAL written under load").isGreaterThan(16L * 1024 * 1024);
        assertThat(samples).allSatisfy(s -> assertThat(s.lagSeconds()).as("lag_seconds")
                .isLessThanOrEqualTo(Math.max(1, BOUND.toSeconds())));
        // What the primary had flushed at each sample is streamed by a sample at most a second (and one sampling interval) later.
        for (Sample sample : samples) {
            if (sample.at() + BOUND.toMillis() + SAMPLE_MILLIS > samples.get(samples.size() - 1).at()) {
                break;
            }
            boolean reached = samples.stream().anyMatch(later -> later.at() >= sample.at()
                    && later.at() <= sample.at() + BOUND.toMillis() + SAMPLE_MILLIS && !sample.flushed().isAfter(later.streamed()));
            assertThat(reached).as("flushed " + sample.flushed() + " at " + Instant.ofEpochMilli(sample.at()) + " streamed within "
                    + BOUND + "; samples: " + samples.stream().filter(s -> Math.abs(s.at() - sample.at()) < 3000).toList()).isTrue();
        }
        api.deprovision(id);
    }

    @Test
    void aReceiverCutOffMidSegmentResumesFromItsSlotWithNoGapAndDuplicatesStoredOnce() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        awaitInitialBackup(api, id);
        Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
        String url = database.get("url").asText();
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement();
             Connection superuser = Superuser.connect(keel, primary, "postgres")) {
            sql.execute("create table rows (n bigint, payload text)");
            for (int round = 0; round < 3; round++) {
                // Mid-segment: a few MB into it, then the receiver's walsender is killed.
                sql.execute("insert into rows select g, md5(g::text) from generate_series(1, 40000) g");
                Lsn written = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + written, Timeouts.PROVISION, () -> !written.isAfter(streamed(api, id)));
                String killed = Pg.scalar(superuser, "select count(pg_terminate_backend(pid)) from pg_stat_replication"
                        + " where application_name = 'keel_wal_receiver'");
                assertThat(killed).isEqualTo("1");
                sql.execute("insert into rows select g, md5(g::text) from generate_series(1, 40000) g");
            }
            Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
            Wait.until("the receiver to resume and store " + last, Timeouts.PROVISION, () -> !last.isAfter(streamed(api, id)));
            // The archiver delivers the same segments: a switch completes the current one for both paths.
            dev.keel.testing.ArchiveWaits.switchAndAwaitArchived(keel, id);
            Thread.sleep(3000); // both paths' deliveries of the switched segment land
        }
        JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
        assertThat(archive.get("gaps")).isEmpty();
        assertThat(archive.get("status").asText()).isEqualTo("ok");
        List<ArchivedWal> files = keel.bean(ArchiveRepository.class).files(databaseId).stream()
                .filter(f -> f.file().kind() == WalFileName.Kind.SEGMENT).toList();
        List<Long> numbers = files.stream().map(f -> f.file().segment().orElseThrow().number()).sorted().toList();
        assertThat(numbers.get(numbers.size() - 1) - numbers.get(0) + 1).as("segments with no gap").isEqualTo(numbers.size());
        // One object per recorded segment, none twice, and no partial left behind of a completed segment.
        List<ObjectInfo> objects = keel.bean(ObjectStore.class).list(ArchiveLayout.walPrefix(databaseId));
        Set<String> keys = objects.stream().map(ObjectInfo::key).collect(Collectors.toCollection(TreeSet::new));
        assertThat(objects).hasSameSizeAs(keys);
        for (ArchivedWal file : files) {
            assertThat(keys).contains(ArchiveLayout.walKey(databaseId, file.name()));
        }
        List<String> partials = keel.bean(ObjectStore.class).list(ArchiveLayout.prefix(databaseId) + "streamed/").stream()
                .map(ObjectInfo::key).toList();
        assertThat(partials).allSatisfy(key -> assertThat(files.stream().map(f -> ArchiveLayout.streamedPrefix(databaseId, f.name())))
                .noneMatch(key::startsWith));
        api.deprovision(id);
    }

    @Test
    void theObjectStoreDownForAMinuteUnderLoadLosesNothingAndTheLagCatchesUp() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        awaitInitialBackup(api, id);
        AtomicBoolean writing = new AtomicBoolean(true);
        java.util.concurrent.atomic.AtomicLong acknowledged = new java.util.concurrent.atomic.AtomicLong();
        Thread writer = new Thread(() -> {
            try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table numbered (n bigint primary key, payload text)");
                for (long n = 1; writing.get(); n++) {
                    sql.execute("insert into numbered select " + n + ", repeat(md5(random()::text), 20)");
                    acknowledged.set(n);
                    Thread.sleep(5);
                }
            } catch (SQLException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, "numbered-writer");
        writer.start();
        Wait.until("the receiver to stream", Timeouts.PROVISION,
                () -> "streaming".equals(api.get("/v1/databases/" + id + "/archive").json().get("receiver").get("state").asText()));
        long s3 = keel.bean(EmbeddedS3.class).process().pid();
        Footprint.signal("STOP", s3);
        JsonNode during;
        try {
            Thread.sleep(Duration.ofMinutes(1).toMillis());
            during = api.get("/v1/databases/" + id + "/archive").json();
        } finally {
            Footprint.signal("CONT", s3);
        }
        // The truth while the store was down: a minute of WAL not in it (less what was stored in the second before the stop, and
        // the report's own second).
        System.out.println("the store stopped for 60 s under load: lag_seconds " + during.get("lag_seconds").asLong());
        assertThat(during.get("lag_seconds").asLong()).as(during.toString()).isGreaterThanOrEqualTo(55);
        Wait.until("the lag to catch up", Timeouts.PROVISION, () -> {
            JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
            return a.get("lag_seconds").asLong() <= 1 && "ok".equals(a.get("status").asText())
                    && "streaming".equals(a.get("receiver").get("state").asText());
        });
        writing.set(false);
        writer.join(Timeouts.REQUEST.toMillis());
        assertThat(writer.isAlive()).isFalse();
        long last = acknowledged.get();
        assertThat(last).as("rows acknowledged").isGreaterThan(1000);

        // Nothing lost: a fork made now holds every acknowledged row.
        Api.Response fork = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}");
        assertThat(fork.status()).as(fork.toString()).isEqualTo(202);
        JsonNode copy = api.awaitAvailable(fork.field("id"), Timeouts.RESTORE);
        try (Connection connection = Pg.connect(copy.get("url").asText(), keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) || ' ' || max(n) from numbered")).isEqualTo(last + " " + last);
        }
        JsonNode after = api.get("/v1/databases/" + id + "/archive").json();
        assertThat(after.get("gaps")).isEmpty();
        api.deprovision(copy.get("id").asText());
        api.deprovision(id);
    }

    @Test
    void onASynchronousPlanEachCommitIsInTheStoreWhenAcknowledgedAndAStoreOrCatalogThatStopsDelaysCommitsOnlyByTheGrace() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"" + SYNCHRONOUS_PLAN + "\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        awaitInitialBackup(api, id); // its checkpoint and segment switch do not fall among the commits timed
        Wait.until("commits to wait for the receiver", Timeouts.PROVISION,
                () -> api.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false));
        ArchiveRepository archive = keel.bean(ArchiveRepository.class);
        List<Long> micros = new ArrayList<>();
        Instance server = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement();
             Connection wal = Superuser.connect(keel, server, "postgres");
             java.sql.PreparedStatement commitEnd = wal.prepareStatement("select end_lsn::text from pg_get_wal_records_info(?::pg_lsn,"
                     + " pg_current_wal_flush_lsn()) where resource_manager = 'Transaction' and record_type = 'COMMIT' and xid::text = ?")) {
            try (Statement create = wal.createStatement()) {
                create.execute("create extension if not exists pg_walinspect");
            }
            sql.execute("create table acknowledged (n int primary key, at timestamptz default now())");
            connection.setAutoCommit(false);
            for (int n = 1; n <= 200; n++) {
                sql.execute("insert into acknowledged (n) values (" + n + ")");
                String xid = Pg.scalar(connection, "select (txid_current() % 4294967296)::text");
                String before = Pg.scalar(connection, "select pg_current_wal_insert_lsn()::text");
                long started = System.nanoTime();
                connection.commit();
                micros.add((System.nanoTime() - started) / 1000);
                // Acknowledged: the transaction's commit record is in the store, and the catalog says so, by then.
                Lsn streamed = archive.streamed(databaseId).map(StreamedWal::end).orElse(Lsn.ZERO);
                commitEnd.setString(1, before);
                commitEnd.setString(2, xid);
                Lsn end;
                try (java.sql.ResultSet record = commitEnd.executeQuery()) {
                    assertThat(record.next()).as("the commit record of " + xid + " after " + before).isTrue();
                    end = Lsn.parse(record.getString(1));
                }
                assertThat(end.isAfter(streamed)).as("commit " + n + " (its record ends at " + end + ") streamed through " + streamed)
                        .isFalse();
            }
            micros.sort(Long::compare);
            System.out.printf("StreamingArchiveTest: a commit that waits for the receiver took %.1f ms (median), %.1f ms (p95)%n",
                    micros.get(micros.size() / 2) / 1000.0, micros.get(micros.size() * 95 / 100) / 1000.0);

            // The store stops answering: a commit waits for it at most the grace (2 s) and a round, then goes on, degraded.
            long s3 = keel.bean(EmbeddedS3.class).process().pid();
            Footprint.signal("STOP", s3);
            long waited;
            JsonNode degraded;
            try {
                sql.execute("insert into acknowledged (n) values (0)");
                long started = System.nanoTime();
                connection.commit();
                waited = (System.nanoTime() - started) / 1_000_000;
                degraded = api.get("/v1/databases/" + id + "/archive").json();
                sql.execute("insert into acknowledged (n) values (-1)");
                started = System.nanoTime();
                connection.commit();
                assertThat((System.nanoTime() - started) / 1_000_000).as("a commit once degraded").isLessThan(1000);
            } finally {
                Footprint.signal("CONT", s3);
            }
            System.out.printf("StreamingArchiveTest: with the store stopped, a commit waited %d ms%n", waited);
            assertThat(waited).as("a commit while the store is stopped").isBetween(1500L, 10_000L);
            assertThat(degraded.get("receiver").get("synchronous").asBoolean()).as(degraded.toString()).isFalse();
            assertThat(degraded.get("receiver").get("message").asText()).startsWith("Degraded: commits are acknowledged before their WAL");
        }
        // Once the store answers and the hold-off (6 graces) is over, commits wait for the receiver again.
        Wait.until("commits to wait for the receiver again", Timeouts.PROVISION,
                () -> api.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false));

        // The catalog hangs (every process of its server stopped): the receiver cannot record what it stored, so a commit
        // waits; the rounds hang with the catalog, and the failsafe lets the commit go once no round has ended for 3 s and it
        // has seen the commit wait past the grace (2 s): about 4-6 s, never under the grace.
        long catalogPostmaster = dev.keel.postgres.Postmaster.pid(keel.bean(dev.keel.catalog.EmbeddedCatalog.class).dataDir())
                .orElseThrow();
        long waitedForCatalog;
        ExecutorService committer = Executors.newSingleThreadExecutor();
        try (Connection tenant = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = tenant.createStatement()) {
            try {
                Footprint.stopServer(catalogPostmaster);
                Future<Long> commit = committer.submit(() -> {
                    long started = System.nanoTime();
                    sql.execute("insert into acknowledged (n) values (-3)");
                    return (System.nanoTime() - started) / 1_000_000;
                });
                try {
                    waitedForCatalog = commit.get(15, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("a commit still waited for the receiver 15 s into a catalog hang: the failsafe did not"
                            + " let it go");
                }
            } finally {
                Footprint.resumeServer(catalogPostmaster); // before the tenant's connection closes: a commit still waiting then ends
            }
        } finally {
            committer.shutdownNow();
        }
        System.out.printf("StreamingArchiveTest: with the catalog hung, a commit waited %d ms%n", waitedForCatalog);
        assertThat(waitedForCatalog).as("a commit while the catalog hangs").isBetween(2_000L, 15_000L);
        Wait.until("commits to wait for the receiver once the catalog is back", Timeouts.PROVISION,
                () -> api.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false));

        // Keel stops (its receiver with it): it lets the commits go first, since nothing would while it is down.
        Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
        try (Connection superuser = Superuser.connect(keel, primary, "postgres");
             Connection tenant = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = tenant.createStatement()) {
            assertThat(Pg.scalar(superuser, "show synchronous_standby_names")).isEqualTo("\"keel_wal_receiver\"");
            keel.stopControlPlane();
            try {
                assertThat(Pg.scalar(superuser, "show synchronous_standby_names")).isEmpty();
                long started = System.nanoTime();
                sql.execute("insert into acknowledged (n) values (-2)");
                assertThat((System.nanoTime() - started) / 1_000_000).as("a commit while Keel is stopped").isLessThan(1000);
            } finally {
                keel.startControlPlane();
            }
        }
        Api restarted = keel.api();
        Wait.until("commits to wait for the receiver after the start", Timeouts.PROVISION,
                () -> restarted.get("/v1/databases/" + id + "/archive").json().get("receiver").path("synchronous").asBoolean(false));
        restarted.deprovision(id);
    }

    /** What /archive said during a catch-up: when, the receiver's state, lag_seconds, the streamed position, the window's end. */
    private record CatchUpSample(long at, String state, long lagSeconds, Lsn streamed, Instant windowEnd) {
    }

    @Test
    void aReceiverCatchingUpFromItsSlotIsBehindFromItsFirstMomentWithALagThatNeverReadsZero() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
            long s3 = keel.bean(EmbeddedS3.class).process().pid();
            List<CatchUpSample> samples = new ArrayList<>();
            List<Lsn> reported = new ArrayList<>(); // the catch-up as the catalog's receiver row says it, for other nodes
            Lsn backlog;
            long taken;
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                sql.execute("create table backlog (n bigint, payload text)");
                // Everything stored and the slot's restart point past it: the receiver resumes in the segment it stored part of.
                Lsn written = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + written + " and tell its slot", Timeouts.PROVISION,
                        () -> !written.isAfter(streamed(api, id)) && !written.isAfter(slotRestart(superuser)));
                try {
                    // The receiver is kept from its slot while the backlog is written (as after a restart, a move or a cut
                    // connection), then finds the store stopped: its catch-up cannot finish until the store answers again.
                    try (SlotHolder holder = SlotHolder.take(superuser, primary)) {
                        taken = System.currentTimeMillis();
                        for (int i = 0; i < 4; i++) {
                            sql.execute("insert into backlog select g, md5(g::text) from generate_series(1, 50000) g");
                            holder.drain();
                        }
                        backlog = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                        Footprint.signal("STOP", s3);
                    }
                    Long connected = null;
                    long deadline = System.currentTimeMillis() + Timeouts.PROVISION.toMillis();
                    while (System.currentTimeMillis() < deadline) {
                        JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
                        long at = System.currentTimeMillis(); // when the answer arrived: a slow request counts in no bound
                        JsonNode receiver = archive.get("receiver");
                        JsonNode lsn = receiver.get("streamed_lsn");
                        CatchUpSample sample = new CatchUpSample(at, receiver.get("state").asText(), archive.get("lag_seconds").asLong(),
                                lsn.isNull() ? Lsn.ZERO : Lsn.parse(lsn.asText()), Instant.parse(archive.get("window").get("to").asText()));
                        samples.add(sample);
                        keel.bean(ArchiveRepository.class).receiver(UUID.fromString(id)).map(r -> r.status().catchUpTo())
                                .ifPresent(reported::add);
                        if (connected == null && !"reconnecting".equals(sample.state())) {
                            connected = at;
                        }
                        if (connected != null && at - connected >= STORE_HELD.toMillis()) {
                            Footprint.signal("CONT", s3);
                        }
                        if (!backlog.isAfter(sample.streamed())) {
                            break;
                        }
                        Thread.sleep(Math.max(0, at + SAMPLE_MILLIS - System.currentTimeMillis()));
                    }
                } finally {
                    Footprint.signal("CONT", s3);
                }
            }
            List<CatchUpSample> catchingUp = samples.stream()
                    .filter(s -> !"reconnecting".equals(s.state()) && backlog.isAfter(s.streamed())).toList();
            assertThat(catchingUp).as("samples of the catch-up").isNotEmpty();
            long first = catchingUp.get(0).at();
            long lasted = catchingUp.get(catchingUp.size() - 1).at() - first;
            System.out.printf("StreamingArchiveTest: a catch-up of %d MB seen for %d ms in %d samples; lag_seconds %s%n",
                    backlog.bytesSince(catchingUp.get(0).streamed()) >> 20, lasted, catchingUp.size(),
                    catchingUp.stream().map(s -> s.state() + " " + s.lagSeconds()).distinct().toList());
            assertThat(lasted).as("the catch-up held open").isGreaterThan(STORE_HELD.toMillis() - SAMPLE_MILLIS);
            assertThat(samples.get(samples.size() - 1).streamed()).as("the backlog stored in the end").isGreaterThanOrEqualTo(backlog);
            assertThat(reported).as("the catalog's receiver row during the catch-up")
                    .anySatisfy(lsn -> assertThat(lsn).isGreaterThanOrEqualTo(backlog));
            // While what the server had flushed when the receiver connected is not stored: behind, with a lag counted from the
            // connection at the latest, and a window that ends before the backlog was written, not now.
            assertThat(catchingUp).allSatisfy(s -> {
                assertThat(s.state()).as(s.toString()).isEqualTo("behind");
                assertThat(s.lagSeconds()).as(s.toString()).isGreaterThanOrEqualTo(Math.max(1, (s.at() - first) / 1000 - 1));
                assertThat(s.windowEnd()).as(s.toString()).isBeforeOrEqualTo(Instant.ofEpochMilli(taken));
            });
        } finally {
            api.deprovision(id);
        }
    }

    @Test
    void aLinkThatFallsSilentLeavesTheReceiversLastCaughtUpMomentAtTheServersLastWord() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        long s3 = keel.bean(EmbeddedS3.class).process().pid();
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                long walsender = storedWithItsWalsender(api, id, sql, superuser, "unheard");
                // No whole segment still being archived: the slot's restart point is in the segment streamed, so the receiver
                // that connects again below resumes that segment and asks the stopped store nothing before it reports its
                // catch-up (a segment to clear first, or a completion to wait for, would hang on the store for minutes).
                Wait.until("the slot to keep no segment before the one streamed", Timeouts.PROVISION,
                        () -> slotRestart(superuser).value() / WalSegmentName.SEGMENT_BYTES
                                == streamed(api, id).value() / WalSegmentName.SEGMENT_BYTES);
                // The row of the last part stored says when the receiver last knew everything stored, for a stream that
                // starts anew to take: no later than the part was stored.
                StreamedWal part = keel.bean(ArchiveRepository.class).streamed(databaseId).orElseThrow();
                assertThat(part.caughtUpAt()).as(part.toString()).isNotNull().isBeforeOrEqualTo(part.storedAt());
                // The receiver's walsender stopped: its connection stays open and says nothing, as over a cut link; no
                // /archive call meanwhile (its look at the server would tell the stream it is behind).
                Instant cut = Instant.now();
                Footprint.signal("STOP", walsender);
                try {
                    sql.execute("insert into unheard select g, md5(g::text) from generate_series(1, 20000) g");
                    Thread.sleep(SILENCE_HELD.toMillis());
                    // Then the connection ends (the walsender dies of its queued SIGTERM once it runs again) while the store is
                    // stopped: the receiver reconnects to a server that has flushed WAL it never got, and cannot store it.
                    Footprint.signal("STOP", s3);
                    Pg.scalar(superuser, "select pg_terminate_backend(" + walsender + ")");
                } finally {
                    Footprint.signal("CONT", walsender);
                }
                WalStream.Status catchingUp = Wait.until("the receiver to report its catch-up", Timeouts.PROVISION,
                        () -> keel.bean(ArchiveRepository.class).receiver(databaseId).map(ArchiveRepository.ReportedReceiver::status)
                                .filter(status -> status.catchUpTo() != null));
                // The last moment it knew everything stored is when the server last spoke, before the silence; reads that
                // found nothing while the link said nothing prove nothing.
                assertThat(catchingUp.caughtUpAt()).as(catchingUp.toString()).isNotNull().isBeforeOrEqualTo(cut);
                JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
                assertThat(Instant.parse(archive.get("window").get("to").asText())).as(archive.toString()).isBeforeOrEqualTo(cut);
                Footprint.signal("CONT", s3);
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + last, Timeouts.PROVISION, () -> !last.isAfter(streamed(api, id)));
            }
        } finally {
            Footprint.signal("CONT", s3);
            api.deprovision(id);
        }
    }

    @Test
    void aLinkCutSilentlyMidBurstLeavesTheReceiversLastCaughtUpMomentBeforeTheBurst() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        long s3 = keel.bean(EmbeddedS3.class).process().pid();
        long walsender = 0;
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                walsender = storedWithItsWalsender(api, id, sql, superuser, "burst");
                // A burst the server has flushed whole before it sends any of it (its walsender stopped), so every chunk of
                // it says the server had more. The store hangs as the receiver puts the first part of it, so the rest queues
                // in the connection; then the link falls silent (the walsender stopped again) and the store answers: the
                // receiver stores everything that had arrived, with no /archive call meanwhile (its look at the server would
                // tell the stream it is behind).
                Footprint.signal("STOP", walsender);
                sql.execute("insert into burst select g, md5(g::text) from generate_series(1, " + BURST_ROWS + ") g");
                Instant burstFlushed = Instant.now();
                Thread.sleep(SILENCE_HELD.toMillis()); // the receiver reads nothing meanwhile, which proves nothing
                Lsn before = keel.bean(ArchiveRepository.class).streamed(databaseId).orElseThrow().end();
                WalStream stream = keel.bean(WalReceivers.class).stream(databaseId).orElseThrow();
                Footprint.signal("STOP", s3);
                try {
                    Footprint.signal("CONT", walsender);
                    Wait.until("the receiver to put part of the burst", Timeouts.PROVISION, () -> {
                        WalStream.Status status = stream.status();
                        return status.received() != null && status.received().isAfter(before) && status.unstoredSince() != null
                                && status.unstoredSince().isBefore(Instant.now().minus(PUT_BEGUN));
                    });
                    Footprint.signal("STOP", walsender);
                } finally {
                    Footprint.signal("CONT", s3);
                }
                StreamedWal part = Wait.until("the receiver to store everything that arrived", Timeouts.PROVISION, () -> {
                    WalStream.Status status = stream.status();
                    return keel.bean(ArchiveRepository.class).streamed(databaseId)
                            .filter(p -> p.end().equals(status.received()) && p.end().equals(status.stored())
                                    && p.storedAt().isBefore(Instant.now().minus(PUT_BEGUN)));
                });
                Lsn flushed = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                assertThat(flushed).as("the burst is cut: the server has WAL the receiver never got").isGreaterThan(part.end());
                // Everything that arrived is stored, but the server had more when it sent it, all of it flushed before it sent
                // any: the last moment the receiver knew everything stored is before that, not when a chunk of it arrived.
                assertThat(part.caughtUpAt()).as(part.toString()).isNotNull().isBeforeOrEqualTo(burstFlushed);
            } finally {
                if (walsender != 0) {
                    Footprint.signal("CONT", walsender);
                }
            }
            try (Connection superuser = Superuser.connect(keel, keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow(),
                    "postgres")) {
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + last, Timeouts.PROVISION, () -> !last.isAfter(streamed(api, id)));
            }
        } finally {
            Footprint.signal("CONT", s3);
            api.deprovision(id);
        }
    }

    @Test
    void aPartStoredWhileTheSegmentBeforeItIsStillBeingArchivedCarriesNoCaughtUpMomentFromMeanwhile() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres");
                 Connection catalog = keel.bean(DataSource.class).getConnection()) {
                storedWithItsWalsender(api, id, sql, superuser, "switched");
                WalSegmentName filling = keel.bean(ArchiveRepository.class).streamed(databaseId).orElseThrow().segment();
                // The whole segment's archiving hangs (on the catalog row it records, which the test holds uncommitted),
                // as a slow store or catalog would: its parts are stored, but it is not archived yet.
                catalog.setAutoCommit(false);
                try {
                    try (PreparedStatement hold = catalog.prepareStatement("insert into archived_wal (database_id, name, kind,"
                            + " timeline, segment_number, size_bytes, stored_bytes, sha256, completed_at)"
                            + " values (?, ?, 'segment', ?, ?, 0, 0, 'held', now())")) {
                        hold.setObject(1, databaseId);
                        hold.setString(2, filling.toString());
                        hold.setInt(3, filling.timeline().value());
                        hold.setLong(4, filling.number());
                        hold.executeUpdate();
                    }
                    Instant whole = Instant.now();
                    Pg.scalar(superuser, "select pg_switch_wal()::text");
                    WalStream stream = keel.bean(WalReceivers.class).stream(databaseId).orElseThrow();
                    Lsn next = filling.next().startLsn();
                    Wait.until("the receiver to receive all of " + filling, Timeouts.PROVISION,
                            () -> stream.status().received() != null && !next.isAfter(stream.status().received()));
                    // WAL of the next segment, which the receiver stores while the one before is still being archived.
                    sql.execute("insert into switched select g, md5(g::text) from generate_series(1, 100) g");
                    StreamedWal part = Wait.until("the receiver to store a part of " + filling.next(), Timeouts.PROVISION,
                            () -> keel.bean(ArchiveRepository.class).streamed(databaseId).filter(p -> p.segment().equals(filling.next())));
                    // Still being archived: the server hears none of it flushed, at the receiver's next status at the latest
                    // (the parts stored while it filled were said flushed before it was whole; a physical slot goes back).
                    Wait.until("the slot's restart point to go back to the start of " + filling, Timeouts.RECEIVER_STATUS,
                            () -> !slotRestart(superuser).isAfter(filling.startLsn()));
                    assertThat(part.caughtUpAt()).as(part.toString()).isNotNull().isBeforeOrEqualTo(whole);
                } finally {
                    catalog.rollback();
                }
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + last, Timeouts.PROVISION, () -> !last.isAfter(streamed(api, id)));
                Wait.until(filling + " to be archived", Timeouts.PROVISION,
                        () -> keel.bean(ArchiveRepository.class).file(databaseId, filling.toString()).isPresent());
            }
        } finally {
            api.deprovision(id);
        }
    }

    @Test
    void aPartRowAnOlderNodeRewroteOffersNoCaughtUpMomentForANewReceiverToTake() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                storedWithItsWalsender(api, id, sql, superuser, "older");
                StreamedWal part = keel.bean(ArchiveRepository.class).streamed(databaseId).orElseThrow();
                assertThat(part.caughtUpAt()).as(part.toString()).isNotNull();
                // The slot held by the test: this node's receiver writes no row meanwhile.
                try (SlotHolder holder = SlotHolder.take(superuser, primary);
                     Connection catalog = keel.bean(DataSource.class).getConnection();
                     PreparedStatement older = catalog.prepareStatement(OLDER_NODES_UPSERT)) {
                    // A node of an earlier version (a rolling upgrade) stores a later part of the segment, as its code did:
                    // it knows neither caught_up_at nor its witness, and leaves both as they were.
                    older.setObject(1, databaseId);
                    older.setObject(2, part.instance());
                    older.setLong(3, part.systemIdentifier());
                    older.setString(4, part.name());
                    older.setInt(5, part.segment().timeline().value());
                    older.setLong(6, part.segment().number());
                    older.setLong(7, part.end().value() + 8192);
                    older.setLong(8, part.size() + 8192);
                    older.setLong(9, part.storedBytes() + 100);
                    older.setString(10, part.sha256());
                    older.setObject(11, OffsetDateTime.now(ZoneOffset.UTC));
                    assertThat(older.executeUpdate()).isEqualTo(1);
                    StreamedWal rewritten = keel.bean(ArchiveRepository.class).streamed(databaseId).orElseThrow();
                    assertThat(rewritten.end()).isEqualTo(new Lsn(part.end().value() + 8192));
                    // The moment was claimed for the part before: it says nothing of WAL the older node's receiver stored.
                    assertThat(rewritten.caughtUpAt()).as(rewritten.toString()).isNull();
                }
                // This version's next part carries its moment again, with the end it was claimed for.
                sql.execute("insert into older values (1, 'after')");
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                StreamedWal after = Wait.until("the receiver to store " + last + " with a caught-up moment", Timeouts.PROVISION,
                        () -> keel.bean(ArchiveRepository.class).streamed(databaseId)
                                .filter(p -> !last.isAfter(p.end()) && p.caughtUpAt() != null));
                assertThat(after.caughtUpAt()).isAfter(part.caughtUpAt());
            }
        } finally {
            api.deprovision(id);
        }
    }

    @Test
    void walThatWaitedInTheConnectionCountsAsOldAsWhenTheServerSentItNotFromWhenTheReceiverReadIt() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        long s3 = keel.bean(EmbeddedS3.class).process().pid();
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                storedWithItsWalsender(api, id, sql, superuser, "waited");
                WalStream stream = keel.bean(WalReceivers.class).stream(databaseId).orElseThrow();
                Lsn first;
                Instant written;
                // The store hangs while the receiver puts a part: WAL the server writes meanwhile waits in the connection,
                // unread, and is read only once the put returns. No /archive call (its look at the server is a sighting too).
                Footprint.signal("STOP", s3);
                try {
                    sql.execute("insert into waited select g, md5(g::text) from generate_series(1, 100) g");
                    first = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                    Wait.until("the receiver to put what it received of " + first, Timeouts.PROVISION, () -> {
                        WalStream.Status status = stream.status();
                        return status.received() != null && !first.isAfter(status.received()) && status.unstoredSince() != null
                                && status.unstoredSince().isBefore(Instant.now().minus(PUT_BEGUN));
                    });
                    sql.execute("insert into waited select g, md5(g::text) from generate_series(1, 3000) g");
                    written = Instant.now();
                    Thread.sleep(STORE_HELD.toMillis());
                } finally {
                    Footprint.signal("CONT", s3);
                }
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                TimelineId timeline = new TimelineId(1); // a new database's
                assertThat(WalSegmentName.containing(timeline, first)).as("the waited WAL is in one segment")
                        .isEqualTo(WalSegmentName.containing(timeline, new Lsn(last.value() - 1)));
                // Once the put returns, what the receiver reads and has not stored yet was written before the store let go.
                List<WalStream.Status> read = new ArrayList<>();
                Wait.until("the receiver to store " + last, Timeouts.PROVISION, Duration.ofMillis(SAMPLE_MILLIS), () -> {
                    WalStream.Status status = stream.status();
                    if (status.stored() != null && !first.isAfter(status.stored()) && status.received().isAfter(status.stored())) {
                        read.add(status);
                    }
                    return status.stored() != null && !last.isAfter(status.stored());
                });
                assertThat(read).as("samples with WAL read after the put returned and not stored yet").isNotEmpty();
                assertThat(read).allSatisfy(status -> assertThat(status.unstoredSince()).as(status.toString()).isNotNull()
                        .isBefore(written.plus(STORE_HELD.dividedBy(2))));
            }
        } finally {
            Footprint.signal("CONT", s3);
            api.deprovision(id);
        }
    }

    @Test
    void aReceiverThatStartsAnewTakesTheLastMomentItsServersEarlierReceiverKnewEverythingStoredNotWhenItStoredItsLastPart()
            throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        Instant beforeUnheard;
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(databaseId).orElseThrow();
            try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement();
                 Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                long walsender = storedWithItsWalsender(api, id, sql, superuser, "late");
                // The receiver stores its last part behind: the store hangs while it puts it, and meanwhile the server
                // writes WAL the receiver does not read (its walsender stopped: that WAL never reaches this receiver).
                long s3 = keel.bean(EmbeddedS3.class).process().pid();
                Footprint.signal("STOP", s3);
                try {
                    sql.execute("insert into late select g, md5(g::text) from generate_series(1, 1000) g");
                    Lsn first = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                    Wait.until("the receiver to put what it received of " + first, Timeouts.PROVISION, () -> keel.bean(WalReceivers.class)
                            .stream(databaseId).map(WalStream::status).filter(st -> st.received() != null && !first.isAfter(st.received())
                                    && st.unstoredSince() != null && st.unstoredSince().isBefore(Instant.now().minus(PUT_BEGUN)))
                            .isPresent());
                    Footprint.signal("STOP", walsender);
                    beforeUnheard = Instant.now();
                    sql.execute("insert into late select g, md5(g::text) from generate_series(1, 1000) g");
                    Thread.sleep(SILENCE_HELD.toMillis()); // the part lands that much after WAL it does not hold was written
                } finally {
                    Footprint.signal("CONT", s3);
                }
                StreamedWal part = Wait.until("the receiver's part to be stored", Timeouts.PROVISION,
                        () -> keel.bean(ArchiveRepository.class).streamed(databaseId).filter(p -> p.storedAt().isAfter(beforeUnheard)));
                assertThat(part.caughtUpAt()).as(part.toString()).isNotNull().isBeforeOrEqualTo(beforeUnheard);
                String password = keel.bean(InstanceRepository.class).superuserPassword(primary);
                keel.stopControlPlane();
                try {
                    Pg.scalar(superuser, "select pg_terminate_backend(" + walsender + ")");
                    Footprint.signal("CONT", walsender);
                    // The slot held while Keel starts, so that its new receiver connects only once the store hangs.
                    try (SlotHolder holder = SlotHolder.takeFreed(primary, password)) {
                        keel.startControlPlane();
                        Footprint.signal("STOP", keel.bean(EmbeddedS3.class).process().pid());
                        holder.drain();
                    }
                    WalStream.Status catchingUp = Wait.until("the new receiver to report its catch-up", Timeouts.PROVISION,
                            () -> keel.bean(ArchiveRepository.class).receiver(databaseId).map(ArchiveRepository.ReportedReceiver::status)
                                    .filter(status -> status.catchUpTo() != null));
                    // Its catch-up holds WAL written after beforeUnheard: the window must not reach past it.
                    assertThat(catchingUp.caughtUpAt()).as(catchingUp.toString()).isNotNull().isBeforeOrEqualTo(beforeUnheard);
                    JsonNode archive = keel.api().get("/v1/databases/" + id + "/archive").json();
                    assertThat(Instant.parse(archive.get("window").get("to").asText())).as(archive.toString())
                            .isBeforeOrEqualTo(beforeUnheard);
                } finally {
                    Footprint.signal("CONT", keel.bean(EmbeddedS3.class).process().pid());
                }
                Lsn last = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                Wait.until("the receiver to store " + last, Timeouts.PROVISION, () -> !last.isAfter(streamed(keel.api(), id)));
            }
        } finally {
            keel.api().deprovision(id);
        }
    }

    /**
     * The receiver's slot held by the test (through the same replication API, never saying anything
     * flushed, so the slot keeps every byte): the receiver cannot start streaming until it is closed.
     */
    private record SlotHolder(ReplicationSession session, ReplicationSession.PhysicalStream stream) implements AutoCloseable {
        /** Ends the receiver's walsender and takes the slot before the receiver's next try (a second later). */
        static SlotHolder take(Connection superuser, Instance primary) throws Exception {
            Lsn from = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
            return Wait.until("the test to hold the receiver's slot", Timeouts.REQUEST, () -> {
                try {
                    Pg.scalar(superuser, "select count(pg_terminate_backend(pid)) from pg_stat_replication"
                            + " where application_name = '" + WalReceivers.SLOT + "'");
                    ReplicationSession session = keel.bean(InstanceConnections.class).openReplication(primary, 30, "catch-up-test");
                    try {
                        return Optional.of(new SlotHolder(session, session.startPhysical(WalReceivers.SLOT, from, 1000)));
                    } catch (SQLException e) {
                        session.close(); // the receiver's walsender still holds it, or the receiver took it again
                        return Optional.empty();
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        /**
         * Takes the slot once its walsender has gone, without Keel (which may be stopped): over a replication
         * connection of the test's own, as Keel's superuser.
         */
        static SlotHolder takeFreed(Instance primary, String password) {
            Properties props = new Properties();
            props.setProperty("user", InstanceConfig.SUPERUSER);
            props.setProperty("password", password);
            props.setProperty("sslmode", "verify-full");
            props.setProperty("sslrootcert", keel.caFile().toString());
            props.setProperty("ApplicationName", "catch-up-test");
            props.setProperty("replication", "true");
            props.setProperty("preferQueryMode", "simple");
            props.setProperty("assumeMinServerVersion", "10");
            String url = "jdbc:postgresql://" + primary.host() + ":" + primary.port() + "/postgres";
            return Wait.until("the test to hold the receiver's slot", Timeouts.REQUEST, () -> {
                try {
                    ReplicationSession session = new ReplicationSession(DriverManager.getConnection(url, props));
                    try {
                        Lsn from = session.identify().flushed();
                        return Optional.of(new SlotHolder(session, session.startPhysical(WalReceivers.SLOT, from, 1000)));
                    } catch (SQLException e) {
                        session.close(); // the walsender that held it has not ended yet
                        return Optional.empty();
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        /** Reads what arrived, so that the stream keeps replying to the server (which ends a holder silent for long). */
        void drain() throws SQLException {
            while (stream.readPending() != null) {
                // discarded: the receiver streams it again from the slot
            }
        }

        @Override
        public void close() throws SQLException {
            session.close();
        }
    }

    /** Creates {@code table}, waits until the receiver has stored it, and returns the pid of the receiver's walsender. */
    private static long storedWithItsWalsender(Api api, String id, Statement sql, Connection superuser, String table) throws SQLException {
        sql.execute("create table " + table + " (n bigint, payload text)");
        Lsn written = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
        Wait.until("the receiver to store " + written, Timeouts.PROVISION, () -> !written.isAfter(streamed(api, id)));
        return Long.parseLong(Pg.scalar(superuser, "select pid from pg_stat_replication where application_name = '"
                + WalReceivers.SLOT + "'"));
    }

    private static Lsn slotRestart(Connection superuser) {
        try {
            String restart = Pg.scalar(superuser, "select restart_lsn from pg_replication_slots where slot_name = '" + WalReceivers.SLOT + "'");
            return restart == null ? Lsn.ZERO : Lsn.parse(restart);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Lsn streamed(Api api, String id) {
        JsonNode lsn = api.get("/v1/databases/" + id + "/archive").json().get("receiver").get("streamed_lsn");
        return lsn.isNull() ? Lsn.ZERO : Lsn.parse(lsn.asText());
    }

    static Thread load(String url, AtomicBoolean writing) {
        Thread load = new Thread(() -> {
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table if not exists load (n bigint, payload text)");
                // A steady load, not the most the machine can write: about 4 MB of WAL a second, a busy
                // OLTP database's rate (a statement of ~230 kB of WAL every 50 ms at most). Flat out, the
                // 2 shared cores of CI write ~13 MB/s and then the receiver falls 2-3 s behind (README).
                while (writing.get()) {
                    long started = System.nanoTime();
                    sql.executeUpdate("insert into load select g, md5(g::text) from generate_series(1, 2000) g");
                    Thread.sleep(Math.max(0, STATEMENT_MILLIS - (System.nanoTime() - started) / 1_000_000));
                }
            } catch (SQLException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, "write-load");
        load.start();
        return load;
    }
}
