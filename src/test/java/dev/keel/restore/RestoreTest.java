package dev.keel.restore;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitBackup;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(SharedKeel.class)
class RestoreTest {
    @Test
    void aRollbackHoldsExactlyTheMarkersCommittedAtOrBeforeItsTargetSecond(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode source = api.provision("{\"plan\":\"standard-0\"}");
        String id = source.get("id").asText();
        String url = source.get("url").asText();
        awaitInitialBackup(api, id);
        List<Instant> committed = new ArrayList<>();
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table markers (n int primary key, at timestamptz not null)");
            // One marker per second, each committed in the middle of its second, so that a whole-second target falls between two.
            for (int n = 1; n <= 8; n++) {
                long wait = 1500 - System.currentTimeMillis() % 1000;
                Thread.sleep(wait > 1000 ? wait - 1000 : wait);
                sql.execute("insert into markers values (" + n + ", clock_timestamp())");
                committed.add(Instant.parse(Pg.scalar(connection, "select to_char(at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                        + " from markers where n = " + n)));
            }
        }
        switchAndAwaitArchived(keel, id);
        Instant target = committed.get(3).truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
        long expected = committed.stream().filter(at -> !at.isAfter(target)).count();
        assertThat(expected).isBetween(3L, 5L);

        Api.Response created = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + source.get("name").asText()
                + "\",\"to\":\"" + target + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        assertThat(created.json().get("progress").get("kind").asText()).isEqualTo("restore");
        assertThat(created.json().get("origin").get("kind").asText()).isEqualTo("rollback");
        assertThat(created.json().get("origin").get("to").asText()).isEqualTo(target.toString());
        JsonNode rolledBack = api.awaitAvailable(created.field("id"), Timeouts.RESTORE);
        String copyUrl = rolledBack.get("url").asText();
        try (Connection connection = Pg.connect(copyUrl, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from markers")).isEqualTo(Long.toString(expected));
            assertThat(Pg.scalar(connection, "select max(n) from markers")).isEqualTo(Long.toString(expected));
            assertThat(Pg.scalar(connection, "select pg_is_in_recovery()")).isEqualTo("f");
            try (Statement sql = connection.createStatement()) {
                sql.execute("insert into markers values (100, now())");
            }
        }
        assertThat(password(copyUrl)).isNotEqualTo(password(url));
        assertThatThrownBy(() -> Pg.connect(copyUrl.replace(password(copyUrl), password(url)), keel.caFile()))
                .isInstanceOf(SQLException.class);
        JsonNode info = api.get("/v1/databases/" + created.field("id") + "/info").json();
        assertThat(info.toString()).contains("\"name\":\"Rolled Back From\",\"values\":[\"" + source.get("name").asText() + " to "
                + target + "\"]");

        // The source is untouched and still takes writes.
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            assertThat(Pg.scalar(connection, "select count(*) from markers")).isEqualTo("8");
            sql.execute("insert into markers values (9, now())");
        }
        // The copy archives to its own prefix and gets its own first backup.
        String copy = created.field("id");
        awaitInitialBackup(api, copy);
        List<String> keys = keel.bean(ObjectStore.class).list(copy + "/").stream().map(ObjectInfo::key).toList();
        assertThat(keys).anyMatch(k -> k.startsWith(copy + "/wal/00000002"));
        assertThat(keys).anyMatch(k -> k.startsWith(copy + "/backups/"));
        // A fork of the copy starts from the copy's own timeline 2 and its history file.
        Api.Response again = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + copy + "\"}");
        assertThat(again.status()).as(again.toString()).isEqualTo(202);
        JsonNode forkOfCopy = api.awaitAvailable(again.field("id"), Timeouts.RESTORE);
        try (Connection connection = Pg.connect(forkOfCopy.get("url").asText(), keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from markers")).isEqualTo(Long.toString(expected + 1));
            assertThat(Pg.scalar(connection, "select timeline_id from pg_control_checkpoint()")).isEqualTo("3");
        }
        api.deprovision(again.field("id"));
        api.deprovision(copy);
        api.deprovision(id);
    }

    @Test
    void aForkEqualsItsSourceAsOfTheRequestAndAFastForkAsOfTheNewestBackup(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode source = api.provision("{\"plan\":\"standard-0\"}");
        String id = source.get("id").asText();
        String url = source.get("url").asText();
        awaitInitialBackup(api, id);
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table items (id int primary key, body text)");
            sql.execute("insert into items select g, md5(g::text) from generate_series(1, 20000) g");
        }
        awaitBackup(api, id, api.post("/v1/databases/" + id + "/backups", "").field("id"));
        String atBackup;
        String atFork;
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            atBackup = checksum(connection);
            sql.execute("insert into items select g, md5(g::text) from generate_series(20001, 30000) g");
            sql.execute("delete from items where id % 7 = 0");
            atFork = checksum(connection);
        }

        Api.Response fork = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}");
        assertThat(fork.status()).as(fork.toString()).isEqualTo(202);
        Api.Response fast = api.post("/v1/databases", "{\"plan\":\"premium-0\",\"fork\":\"" + id + "\",\"fast\":true}");
        assertThat(fast.status()).as(fast.toString()).isEqualTo(202);
        assertThat(fast.json().get("origin").get("as_of").isNull()).isFalse();
        assertThat(fast.json().get("origin").get("age_seconds").asLong()).isGreaterThanOrEqualTo(0);
        try (Connection connection = Pg.connect(url, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("insert into items values (-1, 'after the fork')"); // neither copy has it
        }

        JsonNode forked = api.awaitAvailable(fork.field("id"), Timeouts.RESTORE);
        try (Connection connection = Pg.connect(forked.get("url").asText(), keel.caFile())) {
            assertThat(checksum(connection)).isEqualTo(atFork);
        }
        JsonNode fastForked = api.awaitAvailable(fast.field("id"), Timeouts.RESTORE);
        try (Connection connection = Pg.connect(fastForked.get("url").asText(), keel.caFile())) {
            assertThat(checksum(connection)).isEqualTo(atBackup);
            assertThat(Pg.scalar(connection, "show max_connections")).isEqualTo("120");
        }
        assertThat(api.get("/v1/databases/" + fork.field("id") + "/info").text())
                .contains("{\"name\":\"Forked From\",\"values\":[\"" + source.get("name").asText() + "\"]}");
        api.deprovision(fork.field("id"));
        api.deprovision(fast.field("id"));
        api.deprovision(id);
    }

    private static String checksum(Connection connection) throws SQLException {
        return Pg.scalar(connection, "select count(*) || ':' || md5(string_agg(id || body, ',' order by id)) from items");
    }

    private static String password(String url) {
        String userInfo = java.net.URI.create(url).getUserInfo();
        return userInfo.substring(userInfo.indexOf(':') + 1);
    }

    static UUID uuid(JsonNode node) {
        return UUID.fromString(node.get("id").asText());
    }
}
