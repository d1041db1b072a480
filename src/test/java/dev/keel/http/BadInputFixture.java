package dev.keel.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;

import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link BadInputTest} spoils requests about: a team that owns one of everything the API
 * names (a database with its first backup, a named credential, an app and its attachment, a
 * shared dataclip, an API key, an add-on resource of the Partner API), and a team that owns
 * nothing. {@link #values()} names them as {@link RouteInputs}' paths and bodies do.
 */
final class BadInputFixture implements AutoCloseable {
    static final String BASIC = "Basic " + Base64.getEncoder().encodeToString(("keel:" + SharedKeel.ADDON_PASSWORD).getBytes(StandardCharsets.UTF_8));

    private final TestKeel keel;
    private final Api owner;
    private final Api stranger;
    private final Map<String, String> values = new LinkedHashMap<>();
    private UUID resource;

    BadInputFixture(TestKeel keel) {
        this.keel = keel;
        String suffix = Long.toString(System.nanoTime() % 1_000_000, 36);
        owner = keel.newTeam("fuzz-owner-" + suffix);
        stranger = keel.newTeam("fuzz-stranger-" + suffix);
        JsonNode db = owner.provision("{\"plan\":\"standard-0\",\"name\":\"fuzz-db-" + suffix + "\"}");
        values.put("db", db.get("id").asText());
        values.put("dbname", db.get("name").asText());
        String backup = ArchiveWaits.awaitInitialBackup(owner, values.get("db")).get("id").asText();
        values.put("backup", backup);
        DSLContext catalog = keel.bean(DSLContext.class);
        values.put("backupnum", catalog.select(BACKUPS.NUM).from(BACKUPS).where(BACKUPS.ID.eq(UUID.fromString(backup))).fetchSingle(BACKUPS.NUM)
                .toString());
        values.put("operation", catalog.select(OPERATIONS.ID).from(OPERATIONS).where(OPERATIONS.DATABASE_ID.eq(UUID.fromString(values.get("db"))))
                .limit(1).fetchSingle(OPERATIONS.ID).toString());
        values.put("credential", "fuzzcred");
        expect(owner.post("/v1/databases/" + values.get("db") + "/credentials", "{\"name\":\"fuzzcred\"}"), 201);
        values.put("app", "fuzz-app-" + suffix);
        expect(owner.post("/v1/apps", "{\"name\":\"" + values.get("app") + "\"}"), 201);
        values.put("attachment", expect(owner.post("/v1/apps/" + values.get("app") + "/attachments", "{\"database\":\"" + values.get("db") + "\"}"),
                201).field("id"));
        values.put("release", owner.get("/apps/" + values.get("app") + "/releases").json().get(0).get("id").asText());
        values.put("clip", expect(owner.post("/v1/dataclips", "{\"title\":\"fuzz\",\"database\":\"" + values.get("db") + "\",\"sql\":\"select 1 as n\"}"),
                201).field("id"));
        String shared = expect(owner.post("/v1/dataclips/" + values.get("clip") + "/share", ""), 201).field("url");
        values.put("slug", shared.substring(shared.lastIndexOf('/') + 1));
        values.put("apikey", expect(owner.post("/v1/api-keys", "{\"name\":\"victim\"}"), 201).field("id"));
        resource = UUID.randomUUID();
        values.put("resource", resource.toString());
        Api.Response addon = partner("POST", "/heroku/resources", "{\"uuid\":\"" + resource + "\",\"plan\":\"essential-0\"}");
        assertThat(addon.status()).as(addon.toString()).isIn(200, 202);
        Wait.until("the add-on's database to be available", Timeouts.PROVISION, () -> catalog.fetchExists(DATABASES,
                DATABASES.ID.eq(UUID.fromString(addon.field("id"))).and(DATABASES.STATE.eq("available"))));
    }

    Map<String, String> values() {
        return values;
    }

    Api owner() {
        return owner;
    }

    Api stranger() {
        return stranger;
    }

    List<UUID> teams() {
        return List.of(teamOf(owner), teamOf(stranger));
    }

    List<UUID> resources() {
        return List.of(resource);
    }

    private static UUID teamOf(Api api) {
        return UUID.fromString(api.get("/v1/teams").json().get(0).get("id").asText());
    }

    private Api.Response partner(String method, String path, String json) {
        Api api = keel.api().withKey(null);
        HttpRequest.Builder request = api.request(path).header("Authorization", BASIC);
        return api.send(json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
                : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)));
    }

    private static Api.Response expect(Api.Response response, int status) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        return response;
    }

    /** Removes everything the owner has (what a bad request made too, if one did), and the add-on. */
    @Override
    public void close() {
        for (JsonNode clip : owner.get("/v1/dataclips").json()) {
            owner.delete("/v1/dataclips/" + clip.get("id").asText());
        }
        for (JsonNode app : owner.get("/v1/apps").json()) {
            owner.delete("/v1/apps/" + app.get("name").asText());
        }
        for (JsonNode made : owner.get("/v1/databases").json()) {
            owner.delete("/v1/databases/" + made.get("id").asText() + "?unfollow_followers=true");
        }
        for (JsonNode made : owner.get("/v1/databases").json()) {
            owner.awaitGone(made.get("id").asText());
        }
        if (resource != null) {
            partner("DELETE", "/heroku/resources/" + resource, null);
        }
    }
}
