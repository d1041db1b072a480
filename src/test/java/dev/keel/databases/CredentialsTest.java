package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.operations.DatabaseLeases;
import dev.keel.testing.Api;
import dev.keel.testing.Logins;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Credentials end to end: named ones without privileges, rotation seen by every attachment, forced rotation, destroying. */
@ExtendWith(SharedKeel.class)
class CredentialsTest {
    @Test
    void namedCredentialsRotationAndDestroyAsOnHeroku(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String name = db.get("name").asText();
        String base = "/v1/databases/" + name + "/credentials";
        String ownerUrl = db.get("url").asText();
        try (Connection owner = Pg.connect(ownerUrl, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create table items (id int primary key)");
            sql.execute("insert into items select generate_series(1, 5)");
        }

        Api.Response created = api.post(base, "{\"name\":\"analyst\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        assertThat(created.field("user")).isEqualTo("analyst");
        assertThat(created.field("state")).isEqualTo("active");
        JsonNode list = api.get(base).json();
        assertThat(list.findValues("name").stream().map(JsonNode::asText).toList()).containsExactly("default", "analyst");
        assertThat(api.post(base, "{\"name\":\"analyst\"}").status()).isEqualTo(409);
        Api.Response badName = api.post(base, "{\"name\":\"pg_monitor\"}");
        assertThat(badName.status()).isEqualTo(422);
        assertThat(badName.field("detail")).contains("not starting with pg_");

        // Attached through the credential: its URL logs in as analyst, which may connect and read nothing until granted.
        String app = "app-" + UUID.randomUUID().toString().substring(0, 8);
        assertThat(api.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(201);
        assertThat(api.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + name + "\",\"as\":\"ANALYST\",\"credential\":\"analyst\"}")
                .status()).isEqualTo(201);
        assertThat(api.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + name + "\"}").status()).isEqualTo(201);
        String analystUrl = api.get("/v1/apps/" + app + "/config-vars").json().get("ANALYST_URL").asText();
        assertThat(analystUrl).startsWith("postgres://analyst:");
        try (Connection analyst = Pg.connect(analystUrl, keel.caFile())) {
            assertThat(Pg.scalar(analyst, "select current_user")).isEqualTo("analyst");
            assertThatThrownBy(() -> Pg.scalar(analyst, "select count(*) from items"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
            try (Connection owner = Pg.connect(ownerUrl, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("grant select on items to analyst");
            }
            assertThat(Pg.scalar(analyst, "select count(*) from items")).isEqualTo("5");
        }
        assertThat(api.get(base).json().get(1).get("apps").get(0).asText()).isEqualTo(app);

        // Rotation: every attachment shows the new password at once; the old one fails, sessions go on without force.
        Connection survivor = Pg.connect(ownerUrl, keel.caFile());
        Api.Response rotated = api.post(base + "/default/rotate", "{}");
        assertThat(rotated.status()).as(rotated.toString()).isEqualTo(200);
        assertThat(rotated.json().get("sessions_ended").asInt()).isZero();
        String newUrl = api.get("/v1/apps/" + app + "/config-vars").json().get("DATABASE_URL").asText();
        assertThat(newUrl).isNotEqualTo(ownerUrl);
        assertThat(api.get("/v1/databases/" + name).field("url")).isEqualTo(newUrl);
        Logins.assertPasswordRefused(keel, ownerUrl);
        try (Connection fresh = Pg.connect(newUrl, keel.caFile())) {
            assertThat(Pg.scalar(fresh, "select count(*) from items")).isEqualTo("5");
        }
        assertThat(Pg.scalar(survivor, "select 1")).as("a session of the old password goes on").isEqualTo("1");

        // Under the database's lease: another actor holding it (a failover, a plan change) holds the rotation back, and one
        // holding it past the patience has it refused with its name, nothing changed.
        try (DatabaseLeases.Lease held = keel.bean(DatabaseLeases.class).tryAcquire(UUID.fromString(db.get("id").asText()), "a test")
                .orElseThrow()) {
            Api.Response busy = api.post(base + "/default/rotate", "{}");
            assertThat(busy.status()).as(busy.toString()).isEqualTo(409);
            assertThat(busy.field("detail")).isEqualTo(name + " is busy: " + held.holder()
                    + " is changing its servers. Try again once it is done; nothing was changed.");
        }
        assertThat(api.get("/v1/apps/" + app + "/config-vars").json().get("DATABASE_URL").asText()).isEqualTo(newUrl);

        // Forced rotation ends the credential's sessions.
        Api.Response forced = api.post(base + "/default/rotate", "{\"force\":true}");
        assertThat(forced.status()).isEqualTo(200);
        assertThat(forced.json().get("sessions_ended").asInt()).isGreaterThanOrEqualTo(1);
        Wait.until("the old session to be ended", Duration.ofSeconds(10), () -> {
            try {
                Pg.scalar(survivor, "select 1");
                return false;
            } catch (SQLException e) {
                return true;
            }
        });
        survivor.close();
        Logins.assertPasswordRefused(keel, newUrl);
        Logins.assertConnects(keel, api.get("/v1/apps/" + app + "/config-vars").json().get("DATABASE_URL").asText());

        // Destroy: refused while attached, then the role is gone and its URL fails.
        Api.Response refused = api.delete(base + "/analyst");
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.field("type")).isEqualTo("/problems/credential-attached");
        assertThat(refused.field("detail")).contains(app).contains("detach it first");
        assertThat(api.delete(base + "/default").status()).isEqualTo(422);
        assertThat(api.delete("/v1/apps/" + app + "/attachments/ANALYST").status()).isEqualTo(204);
        assertThat(api.delete(base + "/analyst").status()).isEqualTo(204);
        Logins.assertPasswordRefused(keel, analystUrl);
        assertThat(api.get(base).json()).hasSize(1);
        assertThat(api.post(base + "/analyst/rotate", "{}").status()).isEqualTo(404);

        // Another team sees none of it.
        Api other = keel.newTeam("creds-other-" + System.nanoTime());
        assertThat(other.get(base).status()).isEqualTo(404);
        assertThat(other.post(base, "{\"name\":\"intruder\"}").status()).isEqualTo(404);
        assertThat(other.post(base + "/default/rotate", "{}").status()).isEqualTo(404);
        assertThat(other.delete(base + "/default").status()).isEqualTo(404);
        Logins.assertConnects(keel, api.get("/v1/databases/" + name).field("url"));

        api.deprovision(db.get("id").asText());
        assertThat(api.delete("/v1/apps/" + app).status()).isEqualTo(204);
    }

    @Test
    void essentialPlansHaveOnlyTheDefaultCredential(TestKeel keel) {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
        Api.Response refused = api.post("/v1/databases/" + db.get("name").asText() + "/credentials", "{\"name\":\"analyst\"}");
        assertThat(refused.status()).as(refused.toString()).isEqualTo(422);
        assertThat(refused.field("detail")).contains("has only the default credential");
        assertThat(api.get("/v1/databases/" + db.get("name").asText() + "/credentials").json()).hasSize(1);
        api.deprovision(db.get("id").asText());
    }
}
