package dev.keel.logs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

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
    /** Log written to fill a stalled client's and the server's socket buffers many times over (4 MB). */
    private static final int FILLER_LINES = 4000;
    private static Api team;
    private static String database;
    private static String databaseUrl;
    private static Path caFile;
    private static String app;

    @BeforeAll
    static void database(TestKeel keel) {
        team = keel.newTeam("follows-" + System.nanoTime());
        JsonNode made = team.provision("{\"plan\":\"essential-0\"}");
        database = made.get("id").asText();
        databaseUrl = made.get("url").asText();
        caFile = keel.caFile();
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
    void aClientThatStoppedReadingGetsNothingWrittenAfterItsKeyWasRevoked() throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"stalled\"}");
        URI base = URI.create(team.baseUrl());
        try (Socket socket = new Socket(); Connection owner = Pg.connect(databaseUrl, caFile); Statement sql = owner.createStatement()) {
            socket.setReceiveBufferSize(4 * 1024); // a small window, so the server soon waits on this client
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), (int) Timeouts.REQUEST.toMillis());
            socket.setSoTimeout((int) Timeouts.FOLLOW_REVOKED.toMillis());
            socket.getOutputStream().write(("GET " + logs() + "?follow=true&lines=1 HTTP/1.1\r\nHost: " + base.getHost() + "\r\n"
                    + "Authorization: Bearer " + key.field("key") + "\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                int b = in.read();
                assertThat(b).as("the response's headers").isNotNegative();
                head.write(b);
            }
            assertThat(head.toString(StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");

            // The client reads no more while the server has far more to send than the sockets hold, its key is revoked, and lines
            // are written; then it reads on.
            sql.execute("do $$ begin for i in 1.." + FILLER_LINES + " loop raise log 'before_revocation %', repeat('x', 1000); end loop; end $$");
            // A client that stopped reading, not a wait for a condition: polls come and find it still stopped.
            Thread.sleep(4 * LogFollowing.POLL.toMillis());
            assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
            sql.execute("do $$ begin for i in 1..10 loop raise log 'after_revocation %', i; end loop; end $$");
            Thread.sleep(4 * LogFollowing.POLL.toMillis()); // still stopped: more polls come

            ByteArrayOutputStream rest = new ByteArrayOutputStream();
            try {
                in.transferTo(rest);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the stream did not end within " + Timeouts.FOLLOW_REVOKED + " once its client read on", e);
            }
            String received = dechunked(rest.toByteArray());
            assertThat(received).contains("before_revocation").doesNotContain("after_revocation");
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

    /** The body of a chunked HTTP response, whole chunks only (a marker split over two chunks is whole again). */
    private static String dechunked(byte[] chunked) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int at = 0;
        while (at < chunked.length) {
            int lineEnd = at;
            while (lineEnd + 1 < chunked.length && !(chunked[lineEnd] == '\r' && chunked[lineEnd + 1] == '\n')) {
                lineEnd++;
            }
            String sizeLine = new String(chunked, at, lineEnd - at, StandardCharsets.US_ASCII).split(";")[0].strip();
            int size = sizeLine.isEmpty() ? 0 : Integer.parseInt(sizeLine, 16);
            int start = lineEnd + 2;
            if (size == 0 || start + size > chunked.length) {
                break;
            }
            body.write(chunked, start, size);
            at = start + size + 2;
        }
        return body.toString(StandardCharsets.UTF_8);
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
