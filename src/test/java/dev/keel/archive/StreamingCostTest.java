package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.Lsn;
import dev.keel.storage.EmbeddedS3;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The WAL receiver under the load of {@code ops/bench/rpo.sh} (small transactions, 200 a second by
 * two clients, about 250 kB of WAL a second): {@code lag_seconds} stays within a second, and what
 * the receiver costs is printed, per MB of WAL: its threads' CPU ({@code keel-wal-receive-*},
 * {@code keel-wal-complete-*}, read every 50 ms while they live), the primary's walsender, and the
 * embedded store's process. A quick stand-in for the benchmark's receiver figure, not a replacement.
 */
class StreamingCostTest {
    /** How long the load runs while measured ({@code keel.test.stream-cost-seconds}: 20 s in the suite, 60 s for the figures in ops/bench/README.md). */
    private static final Duration LOADED = Duration.ofSeconds(Long.getLong("keel.test.stream-cost-seconds", 20));
    private static final int CLIENTS = 2;
    /** Each client's pace: rpo.sh's 200 transactions a second by two clients. */
    private static final long TRANSACTIONS_PER_SECOND = 100;
    private static final long SAMPLE_MILLIS = 50;
    private static final long CLOCK_TICKS = 100;
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("streaming-cost", Map.of("keel.instances.pool.size", 0));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void underATrickleOfSmallCommitsTheStoreStaysWithinASecond() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        try {
            awaitInitialBackup(api, id);
            Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
            String url = database.get("url").asText();
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table accounts (id int primary key, balance bigint not null)");
                sql.execute("insert into accounts select g, 0 from generate_series(1, 100000) g");
                sql.execute("create table history (id int, delta int, at timestamptz, filler text)");
            }
            Wait.until("the receiver to stream", Timeouts.PROVISION,
                    () -> "streaming".equals(api.get("/v1/databases/" + id + "/archive").json().get("receiver").get("state").asText()));
            try (Connection superuser = Superuser.connect(keel, primary, "postgres")) {
                long walsender = Long.parseLong(Pg.scalar(superuser,
                        "select pid from pg_stat_replication where application_name = '" + WalReceivers.SLOT + "'"));
                long s3 = keel.bean(EmbeddedS3.class).process().pid();
                Lsn from = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                long walsenderFrom = processTicks(walsender);
                long s3From = processTicks(s3);
                ThreadCpu threads = new ThreadCpu();
                AtomicBoolean writing = new AtomicBoolean(true);
                List<Thread> clients = new ArrayList<>();
                for (int c = 0; c < CLIENTS; c++) {
                    clients.add(client(url, writing));
                }
                long maxLag = 0;
                long end = System.currentTimeMillis() + LOADED.toMillis();
                long nextLagSample = 0;
                try {
                    while (System.currentTimeMillis() < end) {
                        threads.sample();
                        if (System.currentTimeMillis() >= nextLagSample) {
                            maxLag = Math.max(maxLag, api.get("/v1/databases/" + id + "/archive").json().get("lag_seconds").asLong());
                            nextLagSample = System.currentTimeMillis() + 500;
                        }
                        Thread.sleep(SAMPLE_MILLIS);
                    }
                } finally {
                    writing.set(false);
                    for (Thread client : clients) {
                        client.join(Timeouts.REQUEST.toMillis());
                    }
                }
                threads.sample();
                Lsn to = Lsn.parse(Pg.scalar(superuser, "select pg_current_wal_flush_lsn()"));
                double mb = to.bytesSince(from) / 1e6;
                double walsenderSeconds = (processTicks(walsender) - walsenderFrom) / (double) CLOCK_TICKS;
                double s3Seconds = (processTicks(s3) - s3From) / (double) CLOCK_TICKS;
                System.out.printf("StreamingCostTest: %.1f MB of WAL in %d s; CPU ms per MB: receive threads %.1f, complete threads %.1f,"
                                + " walsender %.1f, receiver (these three) %.1f, S3 store %.1f; lag_seconds max %d%n", mb, LOADED.toSeconds(),
                        threads.seconds("keel-wal-receive-") * 1000 / mb, threads.seconds("keel-wal-complete-") * 1000 / mb,
                        walsenderSeconds * 1000 / mb,
                        (threads.seconds("keel-wal-receive-") + threads.seconds("keel-wal-complete-") + walsenderSeconds) * 1000 / mb,
                        s3Seconds * 1000 / mb, maxLag);
                assertThat(mb).as("MB of WAL written").isGreaterThan(LOADED.toSeconds() * 0.05);
                assertThat(maxLag).as("lag_seconds").isLessThanOrEqualTo(Math.max(1, Timeouts.STREAMED.toSeconds()));
            }
        } finally {
            api.deprovision(id);
        }
    }

    /** One client of rpo.sh's load: a TPC-B-like transaction (an update and an insert) at its pace. */
    private static Thread client(String url, AtomicBoolean writing) {
        Thread client = new Thread(() -> {
            try (Connection connection = Pg.connect(url, keel.caFile());
                 PreparedStatement transaction = connection.prepareStatement("with u as (update accounts set balance = balance + ?"
                         + " where id = ? returning id) insert into history select id, ?, now(), repeat(md5(id::text), 30) from u")) {
                long interval = 1_000_000_000L / TRANSACTIONS_PER_SECOND;
                long next = System.nanoTime();
                while (writing.get()) {
                    int delta = ThreadLocalRandom.current().nextInt(-5000, 5000);
                    transaction.setInt(1, delta);
                    transaction.setInt(2, 1 + ThreadLocalRandom.current().nextInt(100000));
                    transaction.setInt(3, delta);
                    transaction.executeUpdate();
                    next += interval;
                    long wait = next - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
            } catch (SQLException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, "stream-cost-load");
        client.start();
        return client;
    }

    /** utime + stime of a process, in clock ticks. */
    private static long processTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    /** The CPU of this JVM's threads by name, the last reading of each kept after it ends. */
    private static final class ThreadCpu {
        private final ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        private final Map<Long, String> names = new HashMap<>();
        private final Map<Long, Long> first = new HashMap<>();
        private final Map<Long, Long> last = new HashMap<>();
        private boolean started;

        /** The first sample is the baseline; a thread first seen later was born during the run and counts from 0. */
        void sample() {
            for (ThreadInfo info : bean.getThreadInfo(bean.getAllThreadIds())) {
                if (info == null || !info.getThreadName().startsWith("keel-wal-")) {
                    continue;
                }
                long nanos = bean.getThreadCpuTime(info.getThreadId());
                if (nanos < 0) {
                    continue;
                }
                names.put(info.getThreadId(), info.getThreadName());
                first.putIfAbsent(info.getThreadId(), started ? 0 : nanos);
                last.put(info.getThreadId(), nanos);
            }
            started = true;
        }

        double seconds(String prefix) {
            return names.entrySet().stream().filter(e -> e.getValue().startsWith(prefix))
                    .mapToLong(e -> last.get(e.getKey()) - first.get(e.getKey())).sum() / 1e9;
        }
    }
}
