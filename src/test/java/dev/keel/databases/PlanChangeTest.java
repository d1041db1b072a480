package dev.keel.databases;

import dev.keel.testing.Superuser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/** Plan changes end to end: limits applied with an announced restart, the HA standby added and removed, and the rules. */
@ExtendWith(SharedKeel.class)
class PlanChangeTest {
    private static final Duration HA_READY = Duration.ofSeconds(180);

    @Test
    void aDatabaseMovesUpAndDownThePlansWithItsStandbyAndFollowers(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
        String id = db.get("id").asText();
        String name = db.get("name").asText();
        try (Connection owner = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create table items (id int primary key)");
            sql.execute("insert into items select generate_series(1, 10)");
        }

        Api.Response up = api.patch("/v1/databases/" + name, "{\"plan\":\"standard-0\"}");
        assertThat(up.status()).as(up.toString()).isEqualTo(202);
        assertThat(up.field("plan")).isEqualTo("standard-0");
        assertThat(up.json().get("progress").get("kind").asText()).isEqualTo("plan_change");
        assertThat(up.json().get("progress").get("step").asText())
                .isEqualTo("applying plan standard-0: restarting the server for max_connections 120 (was 20); connections drop for a few seconds");
        awaitSucceeded(api, up.json().get("progress").get("operation_id").asText());
        assertThat(setting(keel, id, "max_connections")).isEqualTo("120");
        try (Connection owner = Pg.connect(api.get("/v1/databases/" + id).field("url"), keel.caFile())) {
            assertThat(Pg.scalar(owner, "select count(*) from items")).isEqualTo("10");
        }

        Api.Response same = api.patch("/v1/databases/" + name, "{\"plan\":\"standard-0\"}");
        assertThat(same.status()).isEqualTo(200);
        assertThat(same.json().get("progress").isNull()).isTrue();
        Api.Response unknown = api.patch("/v1/databases/" + name, "{\"plan\":\"platinum-9\"}");
        assertThat(unknown.status()).isEqualTo(422);
        assertThat(unknown.field("type")).isEqualTo("/problems/unknown-plan");
        assertThat(keel.newTeam("plans-other-" + System.nanoTime()).patch("/v1/databases/" + name, "{\"plan\":\"premium-0\"}").status())
                .isEqualTo(404);

        // A named credential needs a plan that has them.
        assertThat(api.post("/v1/databases/" + name + "/credentials", "{\"name\":\"reporting\"}").status()).isEqualTo(201);
        Api.Response keeps = api.patch("/v1/databases/" + name, "{\"plan\":\"essential-0\"}");
        assertThat(keeps.status()).as(keeps.toString()).isEqualTo(409);
        assertThat(keeps.field("type")).isEqualTo("/problems/has-credentials");
        assertThat(keeps.field("detail")).contains("reporting").contains("destroy them first");
        assertThat(api.delete("/v1/databases/" + name + "/credentials/reporting").status()).isEqualTo(204);

        // Premium adds the HA standby.
        awaitInitialBackup(api, id);
        Api.Response premium = api.patch("/v1/databases/" + name, "{\"plan\":\"premium-0\"}");
        assertThat(premium.status()).isEqualTo(202);
        assertThat(premium.json().get("progress").get("step").asText()).isEqualTo("applying plan premium-0 (no restart)");
        Wait.until("the HA standby of the new premium database", HA_READY,
                () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));

        // With a follower: it cannot go to essential, its follower cannot either, and going down to standard keeps it streaming.
        Api.Response follow = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + name + "\"}");
        assertThat(follow.status()).isEqualTo(202);
        String followerId = follow.field("id");
        api.awaitAvailable(followerId, Timeouts.RESTORE);
        Api.Response withFollowers = api.patch("/v1/databases/" + name, "{\"plan\":\"essential-0\"}");
        assertThat(withFollowers.status()).isEqualTo(409);
        assertThat(withFollowers.field("type")).isEqualTo("/problems/has-followers");
        assertThat(withFollowers.field("detail")).contains(follow.field("name")).contains("unfollow or delete them first");
        Api.Response followerDown = api.patch("/v1/databases/" + followerId, "{\"plan\":\"essential-0\"}");
        assertThat(followerDown.status()).isEqualTo(422);
        assertThat(followerDown.field("detail")).contains("is a follower and plan essential-0 cannot follow");

        Api.Response standard = api.patch("/v1/databases/" + name, "{\"plan\":\"standard-0\"}");
        assertThat(standard.status()).isEqualTo(202);
        awaitSucceeded(api, standard.json().get("progress").get("operation_id").asText());
        assertThat(api.get("/v1/databases/" + id + "/ha").field("status")).isEqualTo("Not on an HA plan");
        assertThat(keel.bean(InstanceRepository.class).forDatabase(UUID.fromString(id)))
                .extracting(Instance::role).containsExactly(InstanceRole.PRIMARY);
        assertThat(slotsLike(keel, id, "standby\\_%")).isZero();
        try (Connection owner = Pg.connect(api.get("/v1/databases/" + id).field("url"), keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("insert into items values (11)");
        }
        Wait.until("the follower to stream the leader's new row", Duration.ofSeconds(60), () -> {
            try (Connection follower = Pg.connect(api.get("/v1/databases/" + followerId).field("url"), keel.caFile())) {
                return "11".equals(Pg.scalar(follower, "select count(*) from items"));
            } catch (SQLException e) {
                return false;
            }
        });
        api.deprovision(followerId);

        Api.Response down = api.patch("/v1/databases/" + name, "{\"plan\":\"essential-0\"}");
        assertThat(down.status()).as(down.toString()).isEqualTo(202);
        awaitSucceeded(api, down.json().get("progress").get("operation_id").asText());
        assertThat(setting(keel, id, "max_connections")).isEqualTo("20");
        assertThat(api.get("/v1/databases/" + id).field("plan")).isEqualTo("essential-0");
        api.deprovision(id);
    }

    private static void awaitSucceeded(Api api, String operationId) {
        Wait.until("operation " + operationId + " to succeed", Timeouts.PROVISION, () -> {
            Api.Response op = api.get("/v1/operations/" + operationId);
            if ("failed".equals(op.field("state"))) {
                throw new AssertionError("operation failed: " + op);
            }
            return "succeeded".equals(op.field("state"));
        });
    }

    private static String setting(TestKeel keel, String databaseId, String name) throws SQLException {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(databaseId)).orElseThrow();
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            return Pg.scalar(connection, "show " + name);
        }
    }

    private static int slotsLike(TestKeel keel, String databaseId, String pattern) throws SQLException {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(databaseId)).orElseThrow();
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            return Integer.parseInt(Pg.scalar(connection, "select count(*) from pg_replication_slots where slot_name like '" + pattern + "'"));
        }
    }
}
