package dev.keel.replication;

import dev.keel.testing.Superuser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SlotLoss;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Followers end to end: streaming, lag, read-only, the rules around leaders, unfollowing, and the slot on the leader. */
@ExtendWith(SharedKeel.class)
class FollowerTest {
    private static final Duration CATCH_UP = Duration.ofSeconds(60);

    @Test
    void aFollowerStreamsItsLeaderRefusesWritesAndBecomesIndependentWhenUnfollowed(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode leader = api.provision("{\"plan\":\"standard-0\"}");
        String leaderId = leader.get("id").asText();
        String leaderName = leader.get("name").asText();
        String leaderUrl = leader.get("url").asText();
        awaitInitialBackup(api, leaderId);
        try (Connection connection = Pg.connect(leaderUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table items (id int primary key, body text)");
            sql.execute("insert into items select g, md5(g::text) from generate_series(1, 100) g");
        }

        Api.Response created = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + leaderName + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        assertThat(created.json().get("origin").get("kind").asText()).isEqualTo("follow");
        assertThat(created.json().get("following").get("name").asText()).isEqualTo(leaderName);
        String followerId = created.field("id");
        JsonNode follower = api.awaitAvailable(followerId, Timeouts.RESTORE);
        String followerUrl = follower.get("url").asText();
        assertThat(slots(keel, leaderId)).containsExactly(slotOf(followerId));

        // Rows written on the leader after the follower came up appear on it.
        try (Connection connection = Pg.connect(leaderUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("insert into items select g, md5(g::text) from generate_series(101, 150) g");
        }
        try (Connection connection = Pg.connect(followerUrl, keel.caFile())) {
            Wait.until("the follower to have the leader's new rows", CATCH_UP, () -> "150".equals(quietScalar(connection,
                    "select count(*) from items")));
            assertThat(Pg.scalar(connection, "select pg_is_in_recovery()")).isEqualTo("t");
            assertThatThrownBy(() -> {
                try (Statement sql = connection.createStatement()) {
                    sql.execute("insert into items values (1000, 'refused')");
                }
            }).isInstanceOfSatisfying(SQLException.class, e -> {
                assertThat(e.getSQLState()).isEqualTo("25006");
                assertThat(e.getMessage()).contains("read-only transaction");
            });
        }
        JsonNode shown = Wait.until("the follower's lag to be reported", CATCH_UP, () -> {
            JsonNode db = api.get("/v1/databases/" + followerId).json();
            return "streaming".equals(db.path("replication").asText()) && db.path("lag_bytes").isNumber() ? Optional.of(db) : Optional.empty();
        });
        assertThat(shown.get("following").get("id").asText()).isEqualTo(leaderId);
        // It had caught up with the rows above; what is left is at most the WAL written since (autovacuum, checkpoints).
        assertThat(shown.get("lag_bytes").asLong()).isBetween(0L, 16L * 1024 * 1024);
        assertThat(api.get("/v1/databases/" + leaderId).json().get("followers").toString()).contains(followerId);
        String info = api.get("/v1/databases/" + followerId + "/info").text();
        assertThat(info).contains("\"name\":\"Following\",\"values\":[\"" + leaderName + "\"]").contains("\"name\":\"Behind By\"");
        assertThat(api.get("/v1/databases/" + leaderId + "/info").text())
                .contains("\"name\":\"Followers\",\"values\":[\"" + follower.get("name").asText() + "\"]");
        assertThat(api.get("/v1/databases/" + followerId + "/archive").field("status")).isEqualTo("following");

        // The rules: a follower cannot be followed; a leader with followers is not deleted; essential plans do not follow.
        Api.Response ofFollower = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + followerId + "\"}");
        assertThat(ofFollower.status()).isEqualTo(422);
        assertThat(ofFollower.field("detail")).contains("cannot be followed").contains("follow " + leaderName + " instead");
        Api.Response essential = api.post("/v1/databases", "{\"plan\":\"essential-0\",\"follow\":\"" + leaderId + "\"}");
        assertThat(essential.status()).isEqualTo(422);
        assertThat(essential.field("detail")).contains("Plan essential-0 cannot follow").contains("standard-0");
        Api.Response both = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + leaderId + "\",\"fork\":\"" + leaderId + "\"}");
        assertThat(both.status()).isEqualTo(422);
        Api.Response deleteLeader = api.delete("/v1/databases/" + leaderId);
        assertThat(deleteLeader.status()).isEqualTo(409);
        assertThat(deleteLeader.field("type")).isEqualTo("/problems/has-followers");
        assertThat(deleteLeader.field("detail")).contains(follower.get("name").asText()).contains("unfollow_followers=true");
        assertThat(deleteLeader.json().get("followers").toString()).contains(follower.get("name").asText());
        assertThat(api.post("/v1/databases/" + followerId + "/backups", "").status()).isEqualTo(422);
        assertThat(api.post("/v1/databases/" + leaderId + "/unfollow", "").status()).isEqualTo(422);

        // Unfollowed, it takes writes, no longer sees the leader's, and archives to its own prefix.
        Api.Response unfollowed = api.post("/v1/databases/" + followerId + "/unfollow", "");
        assertThat(unfollowed.status()).as(unfollowed.toString()).isEqualTo(202);
        Wait.until("the follower to be unfollowed", Timeouts.RESTORE, () -> api.get("/v1/databases/" + followerId).json()
                .path("following").isNull() && api.get("/v1/databases/" + followerId).json().path("progress").isNull());
        // Independent now, it no longer shares its leader's passwords: its credentials were given new ones.
        String leaderPasswordUrl = followerUrl;
        followerUrl = api.get("/v1/databases/" + followerId).field("url");
        assertThat(followerUrl).isNotEqualTo(leaderPasswordUrl);
        try (Connection connection = Pg.connect(followerUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            assertThat(Pg.scalar(connection, "select pg_is_in_recovery()")).isEqualTo("f");
            sql.execute("insert into items values (1000, 'mine')");
        }
        try (Connection connection = Pg.connect(leaderUrl, keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("insert into items values (2000, 'leader only')");
            assertThat(Pg.scalar(connection, "select count(*) from items")).isEqualTo("151");
        }
        try (Connection connection = Pg.connect(followerUrl, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select count(*) from items where id = 2000")).isEqualTo("0");
            assertThat(Pg.scalar(connection, "select count(*) from items")).isEqualTo("151");
        }
        assertThat(slots(keel, leaderId)).isEmpty();
        assertThat(api.get("/v1/databases/" + leaderId).json().get("followers")).isEmpty();
        awaitInitialBackup(api, followerId);
        List<String> keys = keel.bean(ObjectStore.class).list(followerId + "/").stream().map(ObjectInfo::key).toList();
        assertThat(keys).anyMatch(k -> k.startsWith(followerId + "/wal/00000002"));
        api.deprovision(followerId);
        api.deprovision(leaderId);
    }

    @Test
    void deletingALeaderCanUnfollowItsFollowersAndDeletingAFollowerDropsItsSlot(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode leader = api.provision("{\"plan\":\"premium-0\"}");
        String leaderId = leader.get("id").asText();
        awaitInitialBackup(api, leaderId);
        String first = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + leaderId + "\"}").field("id");
        String second = api.post("/v1/databases", "{\"plan\":\"premium-0\",\"follow\":\"" + leaderId + "\"}").field("id");
        api.awaitAvailable(first, Timeouts.RESTORE);
        JsonNode kept = api.awaitAvailable(second, Timeouts.RESTORE);
        assertThat(slots(keel, leaderId)).containsExactlyInAnyOrder(slotOf(first), slotOf(second));

        api.deprovision(first);
        assertThat(slots(keel, leaderId)).containsExactly(slotOf(second));

        Api.Response deleted = api.delete("/v1/databases/" + leaderId + "?unfollow_followers=true");
        assertThat(deleted.status()).as(deleted.toString()).isEqualTo(202);
        api.awaitGone(leaderId);
        JsonNode independent = Wait.until("the follower to be unfollowed", Timeouts.RESTORE, () -> {
            JsonNode now = api.get("/v1/databases/" + second).json();
            return now.path("following").isNull() && now.path("progress").isNull() ? Optional.of(now) : Optional.empty();
        });
        assertThat(independent.get("url").asText()).isNotEqualTo(kept.get("url").asText());
        try (Connection connection = Pg.connect(independent.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
            sql.execute("create table after_the_leader (n int)");
        }
        awaitInitialBackup(api, second);
        api.deprovision(second);
    }

    @Test
    void aFollowerWhoseSlotWasInvalidatedIsRebuiltAndFollowsAgain(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode leader = api.provision("{\"plan\":\"standard-0\"}");
        String leaderId = leader.get("id").asText();
        String leaderUrl = leader.get("url").asText();
        String followerId = null;
        try {
            awaitInitialBackup(api, leaderId);
            try (Connection connection = Pg.connect(leaderUrl, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table items (id int primary key)");
                sql.execute("insert into items select generate_series(1, 10)");
            }
            followerId = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + leaderId + "\"}").field("id");
            api.awaitAvailable(followerId, Timeouts.RESTORE);
            InstanceRepository instances = keel.bean(InstanceRepository.class);
            Instance leaderPrimary = instances.primary(UUID.fromString(leaderId)).orElseThrow();
            Instance away = instances.primary(UUID.fromString(followerId)).orElseThrow();
            String slot = slotOf(followerId);
            double rebuildsBefore = rebuilds(keel);

            // The follower is away while its leader writes past what it keeps for its slot.
            keel.bean(InstanceRuntime.class).stop(away);
            SlotLoss.invalidate(keel, leaderPrimary, slot);

            // The watch sees it and rebuilds the follower; its view says so, and why, meanwhile.
            String id = followerId;
            JsonNode rebuilding = Wait.until("the follower's view to say it is being rebuilt", Timeouts.FOLLOWER_WATCH, () -> {
                JsonNode view = api.get("/v1/databases/" + id).json();
                // Its progress too: the view reads the running operation twice, and the rebuild may start between the reads.
                return view.path("replication").asText().startsWith("rebuilding") && view.path("progress").isObject()
                        ? Optional.of(view) : Optional.empty();
            });
            assertThat(rebuilding.get("replication").asText()).contains("its slot on the primary of its leader " + leader.get("name")
                    .asText() + " was invalidated (wal_status lost)");
            assertThat(rebuilding.get("state").asText()).isEqualTo("available");
            assertThat(rebuilding.get("progress").get("kind").asText()).isEqualTo("rebuild");
            String operationId = rebuilding.get("progress").get("operation_id").asText();
            JsonNode operation = Wait.until("the rebuild to finish", Timeouts.RESTORE, () -> {
                JsonNode now = api.get("/v1/operations/" + operationId).json();
                return "running".equals(now.get("state").asText()) ? Optional.empty() : Optional.of(now);
            });
            assertThat(operation.get("state").asText()).as(operation.toString()).isEqualTo("succeeded");
            assertThat(operation.get("step").asText()).startsWith("rebuilt, streaming from " + leader.get("name").asText()
                    + "'s primary: its slot on the primary of its leader");
            assertThat(rebuilds(keel)).isEqualTo(rebuildsBefore + 1);
            Instance rebuilt = instances.primary(UUID.fromString(followerId)).orElseThrow();
            assertThat(rebuilt.id()).isNotEqualTo(away.id());
            assertThat(instances.forDatabase(UUID.fromString(followerId))).extracting(Instance::id).containsExactly(rebuilt.id());

            // It follows again, through a fresh slot.
            try (Connection connection = Pg.connect(leaderUrl, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("insert into items values (11)");
            }
            String followerUrl = api.get("/v1/databases/" + followerId).field("url");
            try (Connection connection = Pg.connect(followerUrl, keel.caFile())) {
                Wait.until("the rebuilt follower to have the leader's new row", CATCH_UP,
                        () -> "1".equals(quietScalar(connection, "select count(*) from items where id = 11")));
            }
            try (Connection connection = Superuser.connect(keel, leaderPrimary, "postgres")) {
                assertThat(Pg.scalar(connection, "select wal_status || ' ' || active from pg_replication_slots where slot_name = '"
                        + slot + "'")).isIn("reserved true", "extended true");
            }
            Wait.until("the rebuilt follower to be streaming", CATCH_UP,
                    () -> "streaming".equals(api.get("/v1/databases/" + id).field("replication")));
        } finally {
            if (followerId != null) {
                api.deprovision(followerId);
            }
            api.deprovision(leaderId);
        }
    }

    private static double rebuilds(TestKeel keel) {
        Counter counter = keel.bean(MeterRegistry.class).find("keel.followers.rebuilds").tag("reason", "slot_lost").counter();
        return counter == null ? 0 : counter.count();
    }

    /** The followers' replication slots on the leader's server (a premium leader also has its standby's). */
    private static List<String> slots(TestKeel keel, String leaderId) throws SQLException {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(leaderId)).orElseThrow();
        List<String> names = new ArrayList<>();
        try (Connection connection = Superuser.connect(keel, primary, "postgres"); Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery("select slot_name from pg_replication_slots where slot_name like 'follower\\_%'"
                     + " order by slot_name")) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }

    private static String quietScalar(Connection connection, String query) {
        try {
            return Pg.scalar(connection, query);
        } catch (SQLException e) {
            return e.getMessage();
        }
    }

    private static String slotOf(String followerId) {
        return dev.keel.instances.ReplicationSlots.forFollower(UUID.fromString(followerId));
    }
}
