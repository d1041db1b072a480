package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.nodes.ThisNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static dev.keel.catalog.schema.Tables.DATACLIPS;
import static dev.keel.catalog.schema.Tables.DATACLIP_RESULTS;
import static dev.keel.catalog.schema.Tables.DATACLIP_TEAM_RATES;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs are limited per team (KEEL_DATACLIPS_TEAM_CONCURRENCY 2 running, _TEAM_QUEUE 8 waiting,
 * _TEAM_RUNS_PER_MINUTE 60, the shared Keel's defaults): past them a run is a 429 with
 * Retry-After, and a second identical run while one is queued or running is a 409 naming it.
 * One team flooding runs and link refreshes does not hold back another team's run.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipRunLimitsTest {
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private TestKeel keel;
    private final List<String> databases = new ArrayList<>();
    private final List<Api> owners = new ArrayList<>();

    @BeforeAll
    void keel(TestKeel keel) {
        this.keel = keel;
    }

    @AfterAll
    void deprovision() {
        for (int i = 0; i < databases.size(); i++) {
            owners.get(i).deprovision(databases.get(i));
        }
    }

    /** A new team with a database; the team's API. */
    private Api team(String name) {
        Api api = keel.newTeam(name + "-" + UUID.randomUUID().toString().substring(0, 8));
        databases.add(api.provision("{\"plan\":\"essential-0\"}").get("id").asText());
        owners.add(api);
        return api;
    }

    private static String clip(Api api, String sql, String parameters) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"limits\",\"database\":\"" + databaseOf(api) + "\",\"sql\":"
                + Json.quote(sql) + ",\"parameters\":" + parameters + ",\"timeout_seconds\":60}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.field("id");
    }

    private static String databaseOf(Api api) {
        return api.get("/v1/databases").json().get(0).get("id").asText();
    }

    private static CompletableFuture<HttpResponse<String>> async(Api api, String path) {
        HttpRequest request = api.request(path).POST(HttpRequest.BodyPublishers.noBody()).build();
        return HTTP.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aSecondIdenticalRefreshWhileTheFirstRunsIs409NamingIt() {
        Api api = team("twice");
        String id = clip(api, "select pg_sleep({{s}}::float8) as slept", "{\"s\":\"0\"}");
        CompletableFuture<HttpResponse<String>> first = async(api, "/v1/dataclips/" + id + "/refresh?s=4");
        String running = Wait.until("the first refresh to be running", Timeouts.REQUEST, () -> {
            for (JsonNode version : api.get("/v1/dataclips/" + id + "/versions").json()) {
                for (JsonNode result : version.get("results")) {
                    if ("running".equals(result.get("state").asText())) {
                        return Optional.of(result.get("id").asText());
                    }
                }
            }
            return Optional.empty();
        });
        Api.Response second = api.post("/v1/dataclips/" + id + "/refresh?s=4", "");
        assertThat(second.status()).as(second.toString()).isEqualTo(409);
        assertThat(second.contentType()).isEqualTo("application/problem+json");
        assertThat(second.field("type")).isEqualTo("/problems/run-in-progress");
        assertThat(second.field("result_id")).isEqualTo(running);
        assertThat(second.field("detail")).startsWith("This dataclip is already running with these parameter values (result " + running);
        // Other values are another run.
        assertThat(api.post("/v1/dataclips/" + id + "/refresh?s=0", "").status()).isEqualTo(200);
        assertThat(Api.parse(first.join().body()).get("id").asText()).isEqualTo(running);
        assertThat(api.post("/v1/dataclips/" + id + "/refresh?s=0", "").status()).isEqualTo(200);
    }

    @Test
    void aTeamPastItsRunningAndWaitingRunsIs429WithRetryAfter() throws Exception {
        Api api = team("full");
        String linked = clip(api, "select {{n}}::int as n", "{\"n\":\"0\"}");
        String unrun = clip(api, "select {{n}}::int as n", "{\"n\":\"1\"}"); // its result is forgotten below: nothing stored
        String id = clip(api, "select {{n}}::int as n, pg_sleep(case when {{n}}::int > 0 then 3 else 0 end)", "{\"n\":\"0\"}");
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int n = 1; n <= 10; n++) { // 2 running, 8 waiting
            held.add(async(api, "/v1/dataclips/" + id + "/refresh?n=" + n));
        }
        Wait.until("ten runs to be queued or running", Timeouts.REQUEST, () -> running(api, id) == 10);
        HttpResponse<String> refused = HTTP.sendAsync(api.request("/v1/dataclips/" + id + "/refresh?n=11")
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).join();
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
        assertThat(refused.headers().firstValue("Retry-After")).hasValue(Long.toString(RunQueue.FULL_RETRY_SECONDS));
        JsonNode problem = Api.parse(refused.body());
        assertThat(problem.get("type").asText()).isEqualTo("/problems/too-many-runs");
        assertThat(problem.get("detail").asText()).isEqualTo("Your team has 2 dataclip runs running and 8 waiting, the most it may"
                + " (KEEL_DATACLIPS_TEAM_CONCURRENCY 2, KEEL_DATACLIPS_TEAM_QUEUE 8); try again once one has finished.");
        // The team's links serve what is stored meanwhile, even once stale; a link with nothing stored is refused as well.
        try (Connection catalog = Footprint.catalog(keel.dataDir());
             PreparedStatement age = catalog.prepareStatement("update dataclip_results set started_at = started_at - interval '2 minutes',"
                     + " finished_at = finished_at - interval '2 minutes' where dataclip_id = ?");
             PreparedStatement forget = catalog.prepareStatement("delete from dataclip_results where dataclip_id = ?")) {
            age.setObject(1, UUID.fromString(linked));
            assertThat(age.executeUpdate()).isEqualTo(1);
            forget.setObject(1, UUID.fromString(unrun));
            assertThat(forget.executeUpdate()).isEqualTo(1);
        }
        String path = URI.create(api.post("/v1/dataclips/" + linked + "/share", "").field("url")).getRawPath();
        Api anonymous = api.withKey(null);
        assertThat(anonymous.get(path + ".csv").text()).isEqualTo("n\r\n0\r\n");
        Api.Response none = anonymous.get(URI.create(api.post("/v1/dataclips/" + unrun + "/share", "").field("url")).getRawPath() + ".csv");
        assertThat(none.status()).isEqualTo(429);
        assertThat(none.field("detail")).startsWith("Your team has 2 dataclip runs running and 8 waiting");
        held.forEach(CompletableFuture::join);
        assertThat(api.post("/v1/dataclips/" + id + "/refresh?n=11", "").status()).isEqualTo(200);
    }

    @Test
    void aTeamStartsAtMostSixtyRunsAMinute() throws Exception {
        Api api = team("rate");
        long start = System.nanoTime();
        String id = clip(api, "select {{n}}::int as n", "{\"n\":\"0\"}"); // the first run of the minute
        int started = 1;
        int n = 0;
        HttpResponse<String> byRate = null;
        while (byRate == null && n < 1000) {
            List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
            for (int i = 0; i < 10; i++) { // the team's 2 running and 8 waiting: concurrent, so the runs outpace the refill
                burst.add(async(api, "/v1/dataclips/" + id + "/refresh?n=" + ++n));
            }
            for (CompletableFuture<HttpResponse<String>> answer : burst) {
                HttpResponse<String> response = answer.join();
                if (response.statusCode() == 200 || response.statusCode() == 202) {
                    started++;
                } else if (response.statusCode() == 429 && Api.parse(response.body()).get("detail").asText().startsWith("Your team started")) {
                    byRate = response;
                } else {
                    assertThat(response.statusCode()).as(response.body()).isEqualTo(429); // all its runs taken: tried again in the next burst
                }
            }
        }
        long refilled = (System.nanoTime() - start) / 1_000_000_000L + 1; // a run a second comes back meanwhile
        assertThat(byRate).as("a refusal for the rate after " + n + " requests").isNotNull();
        assertThat(started).isBetween(60, (int) (60 + refilled));
        JsonNode problem = Api.parse(byRate.body());
        assertThat(problem.get("type").asText()).isEqualTo("/problems/too-many-runs");
        assertThat(problem.get("detail").asText()).matches("Your team started 60 dataclip runs within the last minute, the most it may"
                + " \\(KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE\\); try again in 1 s\\.");
        assertThat(byRate.headers().firstValue("Retry-After")).hasValue("1");
    }

    /**
     * A team's rate is one across the nodes: the runs another node started this minute (the
     * team's rate in the catalog a minute ahead) refuse a run here, whose own count is full.
     */
    @Test
    void aTeamsRateCountsTheRunsOtherNodesStarted() {
        Api api = team("rate-nodes");
        String id = clip(api, "select {{n}}::int as n", "{\"n\":\"0\"}");
        DSLContext catalog = keel.bean(DSLContext.class);
        UUID team = catalog.select(DATACLIPS.TEAM_ID).from(DATACLIPS).where(DATACLIPS.ID.eq(UUID.fromString(id))).fetchSingle(DATACLIPS.TEAM_ID);
        int results = catalog.fetchCount(DATACLIP_RESULTS, DATACLIP_RESULTS.DATACLIP_ID.eq(UUID.fromString(id)));
        OffsetDateTime ahead = OffsetDateTime.now().plusSeconds(120).truncatedTo(ChronoUnit.MICROS); // the catalog rounds nanoseconds
        setRate(catalog, team, ahead);
        Api.Response refused = api.post("/v1/dataclips/" + id + "/refresh?n=1", "");
        assertThat(refused.status()).as(refused.toString()).isEqualTo(429);
        assertThat(refused.field("type")).isEqualTo("/problems/too-many-runs");
        assertThat(refused.field("detail")).matches("Your team started 60 dataclip runs within the last minute, the most it may"
                + " \\(KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE\\); try again in (5[89]|6[01]) s\\.");
        assertThat(catalog.fetchCount(DATACLIP_RESULTS, DATACLIP_RESULTS.DATACLIP_ID.eq(UUID.fromString(id)))).as("a run recorded")
                .isEqualTo(results);
        assertThat(rateOf(catalog, team).toInstant()).as("a refused run charged").isEqualTo(ahead.toInstant());
        // A change that could not be made whatever the team's runs is refused for what is wrong with it, not for the rate.
        Api.Response noValue = api.patch("/v1/dataclips/" + id, "{\"sql\":\"select {{m}}::int as m\"}");
        assertThat(noValue.status()).as(noValue.toString()).isEqualTo(422);
        assertThat(noValue.field("parameter")).isEqualTo("m");
        Api.Response valueDropped = api.patch("/v1/dataclips/" + id, "{\"parameters\":{}}");
        assertThat(valueDropped.status()).as(valueDropped.toString()).isEqualTo(422);
        assertThat(valueDropped.field("parameter")).isEqualTo("n");
        // The minute over, for the catalog: the team runs again, and its rate moved on by one run's share.
        setRate(catalog, team, OffsetDateTime.now().minusSeconds(1));
        assertThat(api.post("/v1/dataclips/" + id + "/refresh?n=1", "").status()).isEqualTo(200);
        OffsetDateTime catalogNow = catalog.select(DSL.currentOffsetDateTime()).fetchSingle().value1();
        assertThat(Duration.between(catalogNow, rateOf(catalog, team)).toMillis()).as("one run's share (1 s) past the catalog's now")
                .isBetween(0L, 1000L);
    }

    private static OffsetDateTime rateOf(DSLContext catalog, UUID team) {
        return catalog.select(DATACLIP_TEAM_RATES.NEXT_AT).from(DATACLIP_TEAM_RATES).where(DATACLIP_TEAM_RATES.TEAM_ID.eq(team))
                .fetchSingle(DATACLIP_TEAM_RATES.NEXT_AT);
    }

    private static void setRate(DSLContext catalog, UUID team, OffsetDateTime next) {
        catalog.insertInto(DATACLIP_TEAM_RATES).set(DATACLIP_TEAM_RATES.TEAM_ID, team).set(DATACLIP_TEAM_RATES.NEXT_AT, next)
                .onConflict(DATACLIP_TEAM_RATES.TEAM_ID).doUpdate().set(DATACLIP_TEAM_RATES.NEXT_AT, next).execute();
    }

    @Test
    void oneTeamFloodingRunsAndLinksDoesNotHoldBackAnotherTeamsRun() {
        Api victim = team("victim");
        String measured = clip(victim, "select pg_sleep(1) as slept, {{n}}::int as n", "{\"n\":\"0\"}");
        long unloaded = Long.MAX_VALUE;
        for (int n = 1; n <= 3; n++) {
            unloaded = Math.min(unloaded, timedRefresh(victim, measured, n));
        }
        Api flooder = team("flooder");
        String slow = clip(flooder, "select pg_sleep(5) as slept, {{n}}::int as n", "{\"n\":\"0\"}");
        String url = flooder.post("/v1/dataclips/" + slow + "/share", "").field("url");
        List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
        for (int n = 1; n <= 30; n++) {
            flood.add(async(flooder, "/v1/dataclips/" + slow + "/refresh?n=" + n));
            flood.add(HTTP.sendAsync(flooder.withKey(null).request(URI.create(url).getRawPath() + ".json").GET().build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        Wait.until("the flooding team's runs to take both its runners", Timeouts.REQUEST, () -> running(flooder, slow) >= 2);
        long loaded = timedRefresh(victim, measured, 4);
        System.out.println("DataclipRunLimitsTest: the victim's run took " + unloaded + " ms unloaded, " + loaded + " ms under a flood of "
                + flood.size() + " requests");
        assertThat(loaded).as("a run under another team's flood, against " + unloaded + " ms unloaded").isLessThanOrEqualTo(2 * unloaded);
        // The flood's last runs end some 20 s on (8 waiting, 2 at a time, 5 s each); a request may give up before.
        flood.forEach(request -> request.handle((response, error) -> null).join());
        Wait.until("the flooding team's runs to end", Timeouts.BIG_CLIP, () -> running(flooder, slow) == 0);
    }

    private static long timedRefresh(Api api, String id, int n) {
        long start = System.nanoTime();
        Api.Response refreshed = api.post("/v1/dataclips/" + id + "/refresh?n=" + n, "");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(refreshed.status()).as(refreshed.toString()).isEqualTo(200);
        assertThat(refreshed.field("state")).isEqualTo("succeeded");
        return millis;
    }

    /** Results of the clip queued or running. */
    private static int running(Api api, String id) {
        int running = 0;
        for (JsonNode version : api.get("/v1/dataclips/" + id + "/versions").json()) {
            for (JsonNode result : version.get("results")) {
                running += "running".equals(result.get("state").asText()) ? 1 : 0;
            }
        }
        return running;
    }

    /**
     * A node whose Keel starts ends the runs it was running when it stopped, and those of silent
     * nodes, as failed, and leaves the runs of other nodes, which go on, alone. (The shared Keel's
     * own node is not asked here: its runs are other test classes' live ones.)
     */
    @Test
    void aStartingNodeFailsTheInterruptedRunsOnly() {
        Api api = team("interrupted");
        Dataclip clip = keel.bean(DataclipRepository.class).find(UUID.fromString(clip(api, "select 1", "{}"))).orElseThrow();
        ResultRepository results = keel.bean(ResultRepository.class);
        ClipResult stopped = results.start(clip.teamId(), clip.id(), clip.version().id(), "{\"a\":\"stopped\"}", "node-that-stopped",
                keel.bean(ThisNode.class).lost(), unfinished -> { }, new TeamRunRate(Integer.MAX_VALUE), null);
        ClipResult running = results.start(clip.teamId(), clip.id(), clip.version().id(), "{\"a\":\"running\"}", "node-that-runs",
                keel.bean(ThisNode.class).lost(), unfinished -> { }, new TeamRunRate(Integer.MAX_VALUE), null);
        try {
            results.failRunningOn(Set.of("node-that-stopped", "node-long-silent"), false);
            ClipResult failed = results.find(stopped.id()).orElseThrow();
            assertThat(failed.state()).isEqualTo(ClipResult.FAILED);
            assertThat(failed.errorMessage()).isEqualTo("Keel stopped while this ran; refresh the dataclip to run it again.");
            assertThat(results.find(running.id()).orElseThrow().state()).isEqualTo(ClipResult.RUNNING);
            // A run taken for stopped that ends after all (its node was silent, not stopped) leaves that end standing.
            assertThat(results.succeeded(stopped.id(), 1, null, null, null)).isFalse();
            assertThat(results.find(stopped.id()).orElseThrow().state()).isEqualTo(ClipResult.FAILED);
        } finally {
            results.failRunningOn(Set.of("node-that-runs"), false);
        }
    }
}
