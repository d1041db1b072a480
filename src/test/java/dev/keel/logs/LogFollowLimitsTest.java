package dev.keel.logs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.auth.ApiKeys;
import dev.keel.auth.Caller;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;
import reactor.core.publisher.Flux;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Log follow streams ({@code logs?follow=true}, a {@code heroku logs --tail} session) end once
 * the API key that opened them is revoked, and nothing read after the revocation reaches a client
 * that had stopped reading; they send keepalives on a quiet log; and a team holds at most
 * {@link SharedKeel#FOLLOW_MAX_PER_TEAM} at once; one that ends by any path gives its place back.
 */
@ExtendWith(SharedKeel.class)
class LogFollowLimitsTest {
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static Api team;
    private static String database;
    private static String app;

    @BeforeAll
    static void database(TestKeel keel) {
        team = keel.newTeam("follows-" + System.nanoTime());
        JsonNode made = team.provision("{\"plan\":\"essential-0\"}");
        database = made.get("id").asText();
        app = "follows-" + System.nanoTime();
        assertThat(team.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(201);
        assertThat(team.post("/v1/apps/" + app + "/attachments", "{\"database\":\"" + database + "\"}").status()).isEqualTo(201);
    }

    @AfterAll
    static void remove() {
        if (database != null) {
            team.delete("/v1/apps/" + app);
            team.deprovision(database);
        }
    }

    @Test
    void aFollowStreamEndsOnceItsKeyIsRevoked() throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"follower\"}");
        Api withKey = team.withKey(key.field("key"));
        HttpResponse<InputStream> stream = follow(withKey);
        assertThat(stream.statusCode()).isEqualTo(200);
        CompletableFuture<String> end = readToEnd(stream.body());
        assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
        assertThat(end.get(Timeouts.FOLLOW_REVOKED.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ended");
        assertThat(withKey.get(logs()).status()).isEqualTo(401);
    }

    @Test
    void aSubscriberThatStoppedAskingGetsNothingReadAfterItsKeyWasRevoked(TestKeel keel) throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"stalled\"}");
        assertThat(key.status()).isEqualTo(201);
        // A follow stream as the controllers make one, on this Keel's keys, over a log that is a list: each poll reads what was added.
        LogFollowing following = new LogFollowing("1h", 1, "1h", keel.bean(ApiKeys.class));
        List<String> log = new CopyOnWriteArrayList<>(List.of("before-1", "before-2"));
        AtomicInteger read = new AtomicInteger();
        Flux<String> stream = following.follow(new Caller(UUID.randomUUID(), UUID.fromString(key.field("id")), false), Flux.empty(),
                tick -> {
                    List<String> next = List.copyOf(log.subList(read.get(), log.size()));
                    read.set(log.size());
                    return Flux.fromIterable(next);
                }, "keepalive");
        List<String> received = new CopyOnWriteArrayList<>();
        CompletableFuture<String> ended = new CompletableFuture<>();
        BaseSubscriber<String> client = new BaseSubscriber<>() {
            @Override
            protected void hookOnSubscribe(Subscription subscription) {
                subscription.request(1); // one line, then nothing until asked: a client that stopped reading
            }

            @Override
            protected void hookOnNext(String line) {
                received.add(line);
            }

            @Override
            protected void hookOnComplete() {
                ended.complete("ended");
            }

            @Override
            protected void hookOnError(Throwable error) {
                ended.complete("failed: " + error);
            }
        };
        stream.subscribe(client);
        try {
            Wait.until("the first line", Timeouts.FOLLOW_REVOKED, () -> !received.isEmpty());
            // The client asks for nothing while polls come, its key is revoked, and a line is written; then it asks for everything.
            Thread.sleep(4 * LogFollowing.POLL.toMillis()); // a client that stopped reading, not a wait for a condition
            assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
            log.add("after-1");
            Thread.sleep(4 * LogFollowing.POLL.toMillis()); // still stopped while more polls come
            client.request(Long.MAX_VALUE);
            assertThat(ended.get(Timeouts.FOLLOW_REVOKED.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ended");
            assertThat(received).containsExactly("before-1", "before-2");
        } finally {
            client.dispose();
        }
    }

    @Test
    void anApiFollowOfAQuietLogSendsKeepalives() throws Exception {
        HttpResponse<InputStream> stream = follow(team);
        try {
            assertThat(stream.statusCode()).isEqualTo(200);
            BufferedReader reader = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
            CompletableFuture<String> comment = CompletableFuture.supplyAsync(() -> {
                try {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        if (line.startsWith(":")) {
                            return line;
                        }
                    }
                    return "stream ended";
                } catch (IOException e) {
                    return "stream failed: " + e;
                }
            });
            assertThat(comment.get(Timeouts.FOLLOW_KEEPALIVE.toSeconds(), TimeUnit.SECONDS)).isEqualTo(": keepalive");
        } finally {
            close(stream);
        }
    }

    @Test
    void aLogSessionStopsWorkingOnceItsKeyIsRevokedAndItsOpenTailEnds() throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"heroku\"}");
        Api withKey = team.withKey(key.field("key"));
        String tail = session(withKey, true);
        String unopened = session(withKey, false);
        HttpResponse<InputStream> stream = HTTP.send(HttpRequest.newBuilder(URI.create(tail)).timeout(Timeouts.REQUEST).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(stream.statusCode()).isEqualTo(200);
        CompletableFuture<String> end = readToEnd(stream.body());
        assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
        assertThat(end.get(Timeouts.FOLLOW_REVOKED.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ended");
        for (String url : List.of(tail, unopened)) {
            HttpResponse<String> refused = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Timeouts.REQUEST).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(404);
            assertThat(Api.parse(refused.body()).get("message").asText()).isEqualTo("The API key that made this log session was revoked,"
                    + " and the session with it; run heroku logs again with a key that is not revoked.");
        }
    }

    @Test
    void aTeamHoldsAtMostItsFollowStreamsAndOneThatEndsGivesItsPlaceBack() throws Exception {
        List<HttpResponse<InputStream>> open = new ArrayList<>();
        try {
            // Heroku tails and API follows count together.
            HttpResponse<InputStream> tail = HTTP.send(HttpRequest.newBuilder(URI.create(session(team, true))).timeout(Timeouts.REQUEST)
                    .build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(tail.statusCode()).isEqualTo(200);
            open.add(tail);
            while (open.size() < SharedKeel.FOLLOW_MAX_PER_TEAM) {
                HttpResponse<InputStream> stream = follow(team);
                assertThat(stream.statusCode()).isEqualTo(200);
                open.add(stream);
            }
            String detail = "Your team has " + SharedKeel.FOLLOW_MAX_PER_TEAM + " log follow streams open on this node, as many as it may"
                    + " (KEEL_LOGS_FOLLOW_MAX_PER_TEAM is " + SharedKeel.FOLLOW_MAX_PER_TEAM + "); end one (a heroku logs --tail, a"
                    + " logs?follow=true request) and ask again, or ask the operator to raise KEEL_LOGS_FOLLOW_MAX_PER_TEAM.";
            HttpResponse<InputStream> refused = follow(team);
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.headers().firstValue("Content-Type").orElse("")).startsWith("application/problem+json");
            JsonNode problem;
            try (InputStream body = refused.body()) {
                problem = Api.parse(new String(body.readAllBytes(), StandardCharsets.UTF_8));
            }
            assertThat(problem.get("type").asText()).isEqualTo("/problems/too-many-follows");
            assertThat(problem.get("detail").asText()).isEqualTo(detail);
            assertThat(problem.get("open").asInt()).isEqualTo(SharedKeel.FOLLOW_MAX_PER_TEAM);
            assertThat(problem.get("max").asInt()).isEqualTo(SharedKeel.FOLLOW_MAX_PER_TEAM);
            Api.Response refusedSession = team.post("/apps/" + app + "/log-sessions", "{\"tail\":true}");
            assertThat(refusedSession.status()).isEqualTo(429);
            assertThat(refusedSession.field("id")).isEqualTo("rate_limit");
            assertThat(refusedSession.field("message")).isEqualTo(detail);
            assertThat(team.post("/apps/" + app + "/log-sessions", "{\"tail\":false}").status()).as("a session that does not follow")
                    .isEqualTo(201);

            // A client that goes gives its place back, the tail's as the follow's.
            for (HttpResponse<InputStream> gone : List.of(open.remove(0), open.remove(0))) {
                gone.body().close();
                HttpResponse<InputStream> again = Wait.until("the closed stream's place to be given back", Timeouts.FOLLOW_RELEASED, () -> {
                    HttpResponse<InputStream> tried = follow(team);
                    if (tried.statusCode() == 200) {
                        return Optional.of(tried);
                    }
                    close(tried);
                    return Optional.empty();
                });
                open.add(again);
            }
        } finally {
            open.forEach(LogFollowLimitsTest::close);
        }
    }

    private static String logs() {
        return "/v1/databases/" + database + "/logs";
    }

    private static HttpResponse<InputStream> follow(Api api) {
        try {
            return HTTP.send(api.request(logs() + "?follow=true").header("Accept", "text/event-stream").GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A log session's URL, as {@code heroku logs [--tail]} asks for one. */
    private static String session(Api api, boolean tail) {
        Api.Response made = api.post("/apps/" + app + "/log-sessions", "{\"lines\":5,\"tail\":" + tail + "}");
        assertThat(made.status()).as(made.toString()).isEqualTo(201);
        return made.field("logplex_url");
    }

    /** Reads a stream until the server ends it: "ended", or how it failed. */
    private static CompletableFuture<String> readToEnd(InputStream body) {
        return CompletableFuture.supplyAsync(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                while (reader.readLine() != null) {
                    // events, until the server ends the stream
                }
                return "ended";
            } catch (IOException e) {
                return "stream failed: " + e;
            }
        });
    }

    private static void close(HttpResponse<InputStream> response) {
        try {
            response.body().close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
