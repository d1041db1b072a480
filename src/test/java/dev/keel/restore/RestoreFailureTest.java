package dev.keel.restore;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.luben.zstd.Zstd;
import dev.keel.archive.ArchiveLayout;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(SharedKeel.class)
class RestoreFailureTest {
    @Test
    void aCorruptOrMissingSegmentFailsTheCopyCleanlyAndLeavesTheSourceAsItWas(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode source = api.provision("{\"plan\":\"standard-0\"}");
        String id = source.get("id").asText();
        JsonNode backup = awaitInitialBackup(api, id);
        try (Connection connection = Pg.connect(source.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table kept as select g from generate_series(1, 1000) g");
        }
        switchAndAwaitArchived(keel, id);
        WalSegmentName first = WalSegmentName.containing(new TimelineId(backup.get("timeline").asInt()),
                Lsn.parse(backup.get("start_lsn").asText()));
        String key = ArchiveLayout.walKey(UUID.fromString(id), first.toString());
        ObjectStore store = keel.bean(ObjectStore.class);
        byte[] original;
        try (var in = store.get(key)) {
            original = in.readAllBytes();
        }
        Map<String, String> metadata = store.head(key).orElseThrow().metadata();

        store.put(key, Zstd.compress(new byte[16 << 20], 1), metadata);
        JsonNode corrupt = api.awaitFailed(api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}").field("id"));
        assertThat(corrupt.get("state_reason").asText()).startsWith("The archive cannot be restored: WAL file " + first + " of database "
                + id + " is corrupt: its sha256 is ");
        assertNothingLeft(keel, corrupt);

        store.delete(List.of(key));
        String target = api.get("/v1/databases/" + id + "/archive").json().get("window").get("to").asText();
        JsonNode missing = api.awaitFailed(api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + id + "\",\"to\":\""
                + target + "\"}").field("id"));
        assertThat(missing.get("state_reason").asText()).isEqualTo("The archive cannot be restored: WAL file " + first + " of database "
                + id + " is recorded as archived, but the object store does not have it");
        assertNothingLeft(keel, missing);

        store.put(key, original, metadata);
        assertThat(api.get("/v1/databases/" + id).field("state")).isEqualTo("available");
        try (Connection connection = Pg.connect(source.get("url").asText(), keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
        }
        api.deprovision(corrupt.get("id").asText());
        api.deprovision(missing.get("id").asText());
        api.deprovision(id);
    }

    @Test
    void aTargetAfterTheSourcesLastTransactionRestoresEverythingArchived(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode source = api.provision("{\"plan\":\"standard-0\"}");
        String id = source.get("id").asText();
        awaitInitialBackup(api, id);
        try (Connection connection = Pg.connect(source.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
            // No autoanalyze of it either: nothing may commit after the target, so recovery must run to the archive's end.
            sql.execute("create table kept with (autovacuum_enabled = false) as select g from generate_series(1, 500) g");
        }
        Thread.sleep(1500);
        Instant target = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Thread.sleep(1000);
        switchAndAwaitArchived(keel, id);
        Api.Response created = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + id + "\",\"to\":\"" + target + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        JsonNode copy = api.awaitAvailable(created.field("id"), Timeouts.RESTORE);
        try (Connection connection = Pg.connect(copy.get("url").asText(), keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("500");
        }
        api.deprovision(copy.get("id").asText());
        api.deprovision(id);
    }

    private static void assertNothingLeft(TestKeel keel, JsonNode database) {
        assertThat(database.get("url").isNull()).isTrue();
        assertThat(keel.bean(InstanceRepository.class).forDatabase(UUID.fromString(database.get("id").asText()))).isEmpty();
    }
}
