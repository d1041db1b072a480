package dev.keel.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(SharedKeel.class)
class ApiKeysTest {
    @Test
    void theAdminKeyIsWrittenOnceAndPrivately(TestKeel keel) throws Exception {
        var file = keel.dataDir().resolve("admin-api-key");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(Files.readString(file).strip()).matches("keel_[A-Za-z0-9]{40}");
    }

    @Test
    void aNewKeyIsShownOnceWorksAndStopsWorkingWhenRevoked(TestKeel keel) {
        Api team = keel.newTeam("keys-" + System.nanoTime());
        Api.Response created = team.postLikeCurl("/v1/api-keys", "{\"name\":\"ci\"}");
        assertThat(created.status()).isEqualTo(201);
        String key = created.field("key");
        assertThat(key).matches("keel_[A-Za-z0-9]{40}");
        assertThat(created.field("hint")).isEqualTo(key.substring(key.length() - 4));
        assertThat(created.field("name")).isEqualTo("ci");

        JsonNode listed = team.get("/v1/api-keys").json();
        assertThat(listed).hasSize(2);
        assertThat(listed).allMatch(k -> k.get("key").isNull());
        assertThat(listed.toString()).doesNotContain(key);

        Api withNewKey = team.withKey(key);
        assertThat(withNewKey.get("/v1/databases").status()).isEqualTo(200);
        assertThat(team.delete("/v1/api-keys/" + created.field("id")).status()).isEqualTo(204);
        assertThat(withNewKey.get("/v1/databases").status()).isEqualTo(401);
        assertThat(team.delete("/v1/api-keys/" + created.field("id")).status()).isEqualTo(404);
        assertThat(team.delete("/v1/api-keys/not-an-id").status()).isEqualTo(404);
    }

    @Test
    void anotherKeyOfTheAdminsTeamCannotRevokeTheAdminKey(TestKeel keel) {
        Api admin = keel.api();
        Api.Response created = admin.post("/v1/api-keys", "{\"name\":\"plain-in-default-" + System.nanoTime() + "\"}");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("admin").asBoolean()).isFalse();
        String adminId = null;
        for (JsonNode key : admin.get("/v1/api-keys").json()) {
            adminId = key.get("admin").asBoolean() ? key.get("id").asText() : adminId;
        }
        Api plain = admin.withKey(created.field("key"));
        Api.Response refused = plain.delete("/v1/api-keys/" + adminId);
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.field("detail")).isEqualTo("Only the installation's admin API key can revoke itself.");
        assertThat(admin.get("/v1/api-keys").status()).as("the admin key still works").isEqualTo(200);
        assertThat(plain.delete("/v1/api-keys/" + created.field("id")).status()).as("a plain key revokes itself").isEqualTo(204);
    }

    @Test
    void onlyTheAdminKeyCreatesTeams(TestKeel keel) {
        Api team = keel.newTeam("plain-" + System.nanoTime());
        Api.Response refused = team.post("/v1/teams", "{\"name\":\"another\"}");
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.field("detail")).isEqualTo("Only the installation's admin API key can create teams.");
        assertThat(keel.api().post("/v1/teams", "{\"name\":\"Bad Name\"}").status()).isEqualTo(422);
    }

    @Test
    void teamNamesAreUnique(TestKeel keel) {
        String name = "unique-" + System.nanoTime();
        keel.newTeam(name);
        Api.Response again = keel.api().post("/v1/teams", "{\"name\":\"" + name + "\"}");
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.field("detail")).isEqualTo("A team named " + name + " already exists; choose another name.");
    }
}
