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
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TRANSFERS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link BadInputTest} spoils requests about: a team that owns one of everything the API
 * names (a database with its first backup, a named credential, an app and its attachment, a
 * shared dataclip, an API key, an add-on resource of the Partner API, a logical backup and its
 * schedule, a pooled attachment, a diagnose report, a log session, a prepared upgrade), and a
 * team that owns nothing. Every wait is one of {@link Timeouts}. {@link #values()} names them as {@link RouteInputs}' paths and bodies do.
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
        try {
            make(suffix);
        } catch (RuntimeException | Error e) {
            close(); // try-with-resources closes only what was made whole
            throw e;
        }
    }

    private void make(String suffix) {
        DSLContext catalog = keel.bean(DSLContext.class);
        // The add-on's server is made first, so that its start overlaps the owner's.
        resource = UUID.randomUUID();
        values.put("resource", resource.toString());
        Api.Response addon = partner("POST", "/heroku/resources", "{\"uuid\":\"" + resource + "\",\"plan\":\"essential-0\"}");
        assertThat(addon.status()).as(addon.toString()).isIn(200, 202);
        values.put("team", owner.get("/v1/teams").json().get(0).get("name").asText());
        // Postgres 15: the client tools Keel finds here (Debian's) are 15, and a logical backup needs a pg_dump at least as new.
        JsonNode db = owner.provision("{\"plan\":\"standard-0\",\"name\":\"fuzz-db-" + suffix + "\",\"version\":15}");
        String id = db.get("id").asText();
        values.put("db", id);
        values.put("dbname", db.get("name").asText());
        values.put("backup", ArchiveWaits.awaitInitialBackup(owner, id).get("id").asText());
        values.put("operation", catalog.select(OPERATIONS.ID).from(OPERATIONS).where(OPERATIONS.DATABASE_ID.eq(UUID.fromString(id)))
                .limit(1).fetchSingle(OPERATIONS.ID).toString());
        values.put("credential", "fuzzcred");
        expect(owner.post("/v1/databases/" + id + "/credentials", "{\"name\":\"fuzzcred\"}"), 201);
        values.put("app", "fuzz-app-" + suffix);
        expect(owner.post("/v1/apps", "{\"name\":\"" + values.get("app") + "\"}"), 201);
        values.put("attachment", expect(owner.post("/v1/apps/" + values.get("app") + "/attachments", "{\"database\":\"" + id + "\"}"),
                201).field("id"));
        values.put("release", owner.get("/apps/" + values.get("app") + "/releases").json().get(0).get("id").asText());
        values.put("clip", expect(owner.post("/v1/dataclips", "{\"title\":\"fuzz\",\"database\":\"" + id + "\",\"sql\":\"select 1 as n\"}"),
                201).field("id"));
        String shared = expect(owner.post("/v1/dataclips/" + values.get("clip") + "/share", ""), 201).field("url");
        values.put("slug", shared.substring(shared.lastIndexOf('/') + 1));
        values.put("apikey", expect(owner.post("/v1/api-keys", "{\"name\":\"victim\"}"), 201).field("id"));
        makeMergedResources(catalog, id);
        Wait.until("the add-on's database to be available", Timeouts.PROVISION, () -> catalog.fetchExists(DATABASES,
                DATABASES.ID.eq(UUID.fromString(addon.field("id"))).and(DATABASES.STATE.eq("available"))));
    }

    /**
     * A logical backup (pg_dump of a nearly empty database: seconds) and its schedule, a pooled
     * attachment (a PgBouncer, no new server), a pg:diagnose report, a log session's token and a
     * prepared (not started) upgrade: cheap things that the routes which read them can find.
     */
    private void makeMergedResources(DSLContext catalog, String id) {
        String transfer = expect(owner.post("/v1/databases/" + id + "/logical-backups", ""), 202).field("id");
        values.put("transfer", transfer);
        String state = Wait.until("the fixture's logical backup to finish", Timeouts.LOGICAL_BACKUP, () -> {
            String now = owner.get("/v1/databases/" + id + "/logical-backups/" + transfer).field("state");
            return now.equals("running") ? Optional.<String>empty() : Optional.of(now);
        });
        assertThat(state).as("the fixture's logical backup").isEqualTo("completed");
        values.put("transfernum", catalog.select(TRANSFERS.NUM).from(TRANSFERS).where(TRANSFERS.ID.eq(UUID.fromString(transfer)))
                .fetchSingle(TRANSFERS.NUM).toString());
        values.put("schedule", expect(owner.put("/v1/databases/" + id + "/logical-backup-schedule", "{\"hour\":3,\"timezone\":\"UTC\"}"),
                200).field("id"));
        expect(owner.post("/client/v11/databases/" + values.get("dbname") + "/connection-pooling", "{\"app\":\"" + values.get("app") + "\"}"),
                201);
        values.put("report", expect(owner.post("/reports", "{\"app\":\"" + values.get("app") + "\",\"database\":\"DATABASE_URL\"}"), 201)
                .field("id"));
        String session = expect(owner.post("/apps/" + values.get("app") + "/log-sessions", "{\"dyno\":\"postgres\",\"lines\":10}"), 201)
                .field("logplex_url");
        values.put("logtoken", session.substring(session.lastIndexOf('/') + 1));
        expect(owner.post("/v1/databases/" + id + "/upgrade", "{\"version\":17,\"prepare\":true}"), 200);
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
