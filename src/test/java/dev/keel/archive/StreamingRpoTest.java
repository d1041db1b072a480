package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The host dies: a writer commits a numbered row every 10 ms, then the primary's postmaster is
 * killed with SIGKILL and its data directory removed. A rollback to "now" through the API holds
 * every row acknowledged more than a second before the kill: the receiver had it in the store.
 */
class StreamingRpoTest {
    private static final long WRITE_EVERY_MILLIS = 10;
    private static final long WRITE_FOR_MILLIS = 8000;
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("streaming-rpo", Map.of("keel.instances.pool.size", 0));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void aRollbackToNowAfterThePrimaryIsGoneHoldsEveryRowAcknowledgedASecondBeforeTheKill() throws Exception {
        Api api = keel.api();
        JsonNode database = api.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        awaitInitialBackup(api, id);
        String url = database.get("url").asText();
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table numbered (n bigint primary key)");
        }
        Map<Long, Long> acknowledgedAt = new ConcurrentHashMap<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
                for (long n = 1; writing.get(); n++) {
                    sql.execute("insert into numbered values (" + n + ")");
                    acknowledgedAt.put(n, System.currentTimeMillis());
                    Thread.sleep(WRITE_EVERY_MILLIS);
                }
            } catch (SQLException | InterruptedException e) {
                // the server was killed under it
            }
        }, "numbered-writer");
        writer.start();
        Thread.sleep(WRITE_FOR_MILLIS);

        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        Path dataDir = keel.serverDir().resolve("instances").resolve(primary.id().toString()).resolve("data");
        long pid = Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).strip());
        long killedAt = System.currentTimeMillis();
        Footprint.signal("KILL", pid);
        remove(dataDir);
        writing.set(false);
        writer.join(Timeouts.REQUEST.toMillis());
        assertThat(acknowledgedAt.size()).as("rows acknowledged").isGreaterThan(100);

        Api.Response created = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + database.get("name").asText()
                + "\",\"to\":\"" + Instant.now() + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        JsonNode copy = api.awaitAvailable(created.field("id"), Timeouts.RESTORE);
        Set<Long> restored = new HashSet<>();
        try (Connection connection = Pg.connect(copy.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery("select n from numbered")) {
            while (rows.next()) {
                restored.add(rows.getLong(1));
            }
        }
        long bound = killedAt - Timeouts.STREAMED.toMillis();
        List<Long> lost = acknowledgedAt.entrySet().stream().filter(e -> e.getValue() < bound && !restored.contains(e.getKey()))
                .map(Map.Entry::getKey).sorted().toList();
        long newestKept = restored.stream().mapToLong(n -> n).max().orElse(0);
        long lostAfterBound = acknowledgedAt.entrySet().stream().filter(e -> e.getValue() >= bound && !restored.contains(e.getKey()))
                .count();
        System.out.printf("RPO: %d rows acknowledged, %d restored (newest %d acknowledged %d ms before the kill), %d of the last"
                + " second's lost%n", acknowledgedAt.size(), restored.size(), newestKept,
                killedAt - acknowledgedAt.getOrDefault(newestKept, killedAt), lostAfterBound);
        assertThat(lost).as("rows acknowledged more than " + Timeouts.STREAMED + " before the kill, missing").isEmpty();
        api.deprovision(created.field("id"));
    }

    private static void remove(Path dir) throws Exception {
        int exit = new ProcessBuilder("rm", "-rf", dir.toString()).inheritIO().start().waitFor();
        assertThat(exit).isZero();
    }
}
