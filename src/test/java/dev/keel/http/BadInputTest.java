package dev.keel.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Logins;
import dev.keel.testing.RawHttp;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.web.router.Router;
import io.micronaut.web.router.UriRouteInfo;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;

import static dev.keel.catalog.schema.Tables.ADDON_RESOURCES;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input is never a 500: every route the router lists gets spoilt input (see
 * {@link BadInputs}) from the team that owns the resources it names ({@link BadInputFixture}),
 * from another team, and (on what only the admin may do) from the admin key; every answer is a
 * 4xx in the path's error shape, and nothing changes meanwhile.
 */
@ExtendWith(SharedKeel.class)
class BadInputTest {
    /** The first path segments of Keel's own APIs, which answer problem+json; every other path is Heroku's, {id, message}. */
    private static final Set<String> KEEL_OWN = Set.of("v1", "heroku", "dataclips", "problems", "openapi", "openapi.yaml", "health", "metrics",
            "internal");
    /** Routes that take no API key: public documents, Prometheus' scrape (no token set here), a log session's own token, a node's sealed read of a server log or vouch question. */
    private static final Set<String> PUBLIC = Set.of("/health", "/health/live", "/problems/{slug}", "/v1/plans", "/v1/ca.pem", "/dataclips/{file}",
            "/dataclips/assets/dataclip.css", "/metrics", "/openapi", "/openapi.yaml", "/openapi/ui", "/openapi/ui/{file}",
            "/log-sessions/{token}", "/internal/server-logs", "/internal/standby-vouch");

    @Test
    void everyRouteHasATestInput(TestKeel keel) {
        Set<String> listed = routes(keel);
        Set<String> covered = RouteInputs.all().stream().map(RouteInputs.Input::route).collect(Collectors.toCollection(TreeSet::new));
        assertThat(new TreeSet<>(listed)).as("routes without an input in RouteInputs: add one for each").isSubsetOf(covered);
        assertThat(covered).as("inputs for routes Keel no longer has").isSubsetOf(listed);
    }

    @Test
    void refusalsSayWhatIsWrongAndWhatToSend(TestKeel keel) {
        Api api = keel.api();
        assertDetail(api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"x\",\"by\":\"99999999999999999999 days\"}"), 422,
                "\"by\" is '99999999999999999999 days', longer than any rollback window (at most 3660 days); ask for a span inside the"
                        + " source's window, which GET /v1/databases/{id}/archive shows.");
        assertDetail(api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"x\",\"sql\":\"select 1\",\"timeout_seconds\":1e400}"), 400,
                "\"timeout_seconds\" must be a whole number from -2147483648 to 2147483647, written without quotes.");
        assertDetail(api.post("/v1/api-keys", "{\"name\":123}"), 400, "\"name\" must be a JSON string.");
        assertDetail(api.post("/v1/api-keys", "{\"name\":[\"x\"]}"), 400, "\"name\" must be a JSON string.");
        assertDetail(api.post("/v1/api-keys", "{\"name\":\"a\\u0000b\"}"), 400,
                "\"name\" holds a NUL character (\\u0000), which Keel cannot keep; remove it.");
        assertDetail(api.post("/v1/api-keys", "{\"name\":\"a\\ud800b\"}"), 400,
                "\"name\" holds an unpaired UTF-16 surrogate (such as \\ud800), which is not Unicode text; send valid UTF-8.");
        assertDetail(api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"x\",\"sql\":\"select 1\",\"parameters\":{\"n\":5}}"), 400,
                "\"parameters.n\" must be a JSON string.");
        assertDetail(api.post("/v1/databases", "{\"plan\":"), 400,
                "The request body is not valid JSON (line 1, column 9): send one JSON object with Content-Type: application/json.");
        assertDetail(api.post("/v1/teams", "{\"name\":\"x1\"} trailing"), 400,
                "The request body is not valid JSON (line 1, column 15): send one JSON object with Content-Type: application/json.");
        assertDetail(api.get("/v1/databases/a%00b"), 400, "The path holds the control character U+0000 (percent-encoded or not); remove it:"
                + " names, ids and parameter values never hold one.");
        assertDetail(api.get("/v1/databases?x=%ED%A0%80"), 400, "The query string is not valid UTF-8 once percent-decoded: encode text as"
                + " UTF-8 before percent-encoding it.");
        assertDetail(api.delete("/v1/databases/x?unfollow_followers=maybe"), 400, "?unfollow_followers is true or false; leave it out for false.");
        Api.Response heroku = api.get("/apps/a%00b/addons");
        assertThat(heroku.status()).isEqualTo(400);
        assertThat(heroku.json().get("id").asText()).isEqualTo("bad_request");
        assertThat(heroku.field("message")).startsWith("The path holds the control character U+0000");
    }

    private static void assertDetail(Api.Response response, int status, String detail) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.field("detail")).isEqualTo(detail);
    }

    @Test
    void badInputOnEveryRouteIsA4xxAndChangesNothing(TestKeel keel) throws Exception {
        DSLContext catalog = keel.bean(DSLContext.class);
        try (BadInputFixture fixture = new BadInputFixture(keel)) {
            Map<String, Caller> callers = new LinkedHashMap<>();
            callers.put("owner", new Caller("Bearer " + fixture.owner().key(), BadInputFixture.BASIC));
            callers.put("stranger", new Caller("Bearer " + fixture.stranger().key(), null));
            callers.put("admin", new Caller("Bearer " + keel.api().key(), "Bearer " + keel.api().key()));
            awaitNoOperationRunning(catalog, fixture.teams());
            String before = CatalogState.of(catalog, fixture.teams(), fixture.resources());
            OffsetDateTime fuzzing = OffsetDateTime.now();
            List<UUID> provisioned = new ArrayList<>();
            RawHttp http = new RawHttp("127.0.0.1", URI.create(keel.api().baseUrl()).getPort());
            List<String> failures = new ArrayList<>();
            int sent = 0;
            for (RouteInputs.Input input : RouteInputs.all()) {
                for (Map.Entry<String, Caller> caller : callers.entrySet()) {
                    if (caller.getKey().equals("admin") && !input.path().startsWith("/v1/teams")) {
                        continue; // beyond what only the admin may do, the admin key is one more team that owns none of these
                    }
                    Map<String, String> values = new LinkedHashMap<>(fixture.values());
                    UUID fresh = UUID.randomUUID();
                    provisioned.add(fresh);
                    values.put("new-uuid", fresh.toString());
                    values.put("now", Instant.now().minusSeconds(2).truncatedTo(ChronoUnit.SECONDS).toString());
                    String path = RouteInputs.fill(input.path(), values);
                    String body = input.body() == null ? null : RouteInputs.fill(input.body(), values);
                    boolean authenticated = !PUBLIC.contains(input.route().substring(input.route().indexOf(' ') + 1));
                    String authorization = !authenticated ? null : path.startsWith("/heroku/") ? caller.getValue().partner() : caller.getValue().bearer();
                    for (BadInputs.Case bad : BadInputs.of(input, path, body, authorization, authenticated)) {
                        sent++;
                        String problem = check(input.method(), readable(bad.request()) ? path : null, http.send(bad.request()));
                        if (problem != null) {
                            failures.add(input.route() + " as " + caller.getKey() + ", " + bad.what() + " (" + bad.request().describe() + "): "
                                    + problem);
                        }
                    }
                }
            }
            assertThat(failures).as(failures.size() + " of " + sent + " bad requests were not refused with a 4xx").isEmpty();

            awaitNoOperationRunning(catalog, fixture.teams());
            assertThat(CatalogState.of(catalog, fixture.teams(), fixture.resources())).as("the catalog after every bad request").isEqualTo(before);
            // Nothing was provisioned through the Partner API: no resource for any uuid sent, no add-on database without one.
            assertThat(catalog.fetchCount(ADDON_RESOURCES, ADDON_RESOURCES.ID.in(provisioned))).isZero();
            assertThat(catalog.fetchCount(DATABASES, DATABASES.CREATED_AT.gt(fuzzing)
                    .and(DATABASES.TEAM_ID.in(catalog.select(TEAMS.ID).from(TEAMS).where(TEAMS.PLATFORM.isTrue())))
                    .and(DATABASES.ID.notIn(catalog.select(ADDON_RESOURCES.DATABASE_ID).from(ADDON_RESOURCES))))).isZero();
            // The owner's things still work as before.
            Logins.assertConnects(keel, fixture.owner().get("/v1/databases/" + fixture.values().get("db")).field("url"));
            assertThat(keel.api().withKey(null).get("/dataclips/" + fixture.values().get("slug") + ".json").status()).isEqualTo(200);
        }
    }

    /**
     * Why {@code response} is not a refusal in the shape of {@code path}'s API, or null when it is
     * one; with {@code path} null (the server could not read the request's target), in either shape.
     */
    private static String check(String method, String path, RawHttp.Response response) {
        if (response.status() < 400 || response.status() >= 500) {
            return "answered " + response;
        }
        if (path == null) {
            return check(method, "/v1", response) == null || check(method, "/apps", response) == null ? null : "not an error document: "
                    + response;
        }
        String first = path.split("/")[1];
        if (method.equals("HEAD")) {
            return null; // no body, so no shape to check
        }
        try {
            if (!KEEL_OWN.contains(first)) {
                JsonNode error = response.json();
                return response.contentType().startsWith("application/json") && error.hasNonNull("id") && !error.get("message").asText().isBlank()
                        ? null : "not Heroku's {id, message}: " + response;
            }
            JsonNode problem = response.json();
            boolean shaped = response.contentType().startsWith("application/problem+json")
                    && problem.get("type").asText().startsWith("/problems/") && problem.get("status").asInt() == response.status()
                    && !problem.get("detail").asText().isBlank();
            return shaped ? null : "not a problem document: " + response;
        } catch (RuntimeException e) {
            return "not JSON: " + response;
        }
    }

    /** Whether the server can read the request's target as a URI at all, so that it knows the path. */
    private static boolean readable(RawHttp.Request request) {
        try {
            new URI(new String(request.target(), StandardCharsets.ISO_8859_1));
            return request.target().length < 4096;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    private record Caller(String bearer, String partner) {
    }

    private static Set<String> routes(TestKeel keel) {
        return keel.bean(Router.class).uriRoutes()
                .map(route -> route.getHttpMethodName() + " " + template(route))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static String template(UriRouteInfo<?, ?> route) {
        return route.getUriMatchTemplate().toPathString();
    }

    /** Waits until the teams' operations (their first backups, say) are done, so that none moves their rows meanwhile. */
    private static void awaitNoOperationRunning(DSLContext catalog, List<UUID> teams) {
        Wait.until("the teams' operations to finish", Timeouts.PROVISION,
                () -> catalog.fetchCount(OPERATIONS, OPERATIONS.STATE.eq("running").and(OPERATIONS.TEAM_ID.in(teams))) == 0);
    }

}
