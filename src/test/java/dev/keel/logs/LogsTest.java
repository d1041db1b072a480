package dev.keel.logs;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A database's server log through the API: newest entries, filters, bad filters, tenancy, and following as server-sent events. */
@ExtendWith(SharedKeel.class)
class LogsTest {
    @Test
    void theServerLogIsReadFilteredAndFollowed(TestKeel keel) throws Exception {
        Api api = keel.newTeam("logs-" + System.nanoTime());
        JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
        String id = db.get("id").asText();
        String base = "/v1/databases/" + id + "/logs";
        try (Connection c = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = c.createStatement()) {
            assertThatThrownBy(() -> sql.execute("select 1/0 as logs_marker")).isInstanceOf(SQLException.class);

            JsonNode errors = Wait.until("the error to be in the log", Timeouts.REQUEST, () -> {
                Api.Response r = api.get(base + "?level=error");
                return r.status() == 200 && r.text().contains("division by zero") ? java.util.Optional.of(r.json()) : java.util.Optional.empty();
            });
            assertThat(errors.get("role").asText()).isEqualTo("primary");
            JsonNode entry = errors.get("lines").get(errors.get("lines").size() - 1);
            assertThat(entry.get("level").asText()).isEqualTo("ERROR");
            assertThat(entry.get("message").asText()).startsWith("division by zero").contains("STATEMENT:  select 1/0 as logs_marker");
            assertThat(entry.get("database").asText()).isEqualTo(Pg.jdbcUrl(db.get("url").asText()).replaceAll(".*/", ""));
            assertThat(entry.get("time").asText()).endsWith("Z");
            for (JsonNode line : errors.get("lines")) {
                assertThat(line.get("level").asText()).isIn("ERROR", "LOG", "FATAL", "PANIC");
            }

            JsonNode all = api.get(base).json();
            assertThat(all.get("lines").size()).isGreaterThan(1).isLessThanOrEqualTo(100);
            assertThat(all.toString()).contains("database system is ready to accept connections");
            assertThat(api.get(base + "?lines=1").json().get("lines")).hasSize(1);
            assertThat(api.get(base + "?since=2999-01-01T00:00:00Z").json().get("lines")).isEmpty();

            // Bad filters are 422 with what to send; another team's database and a missing standby are 404.
            Api.Response badLevel = api.get(base + "?level=loud");
            assertThat(badLevel.status()).isEqualTo(422);
            assertThat(badLevel.field("detail")).contains("warning");
            assertThat(api.get(base + "?lines=0").status()).isEqualTo(422);
            assertThat(api.get(base + "?lines=many").status()).isEqualTo(400);
            assertThat(api.get(base + "?since=yesterday").field("detail")).contains("RFC 3339");
            assertThat(api.get(base + "?instance=standby").status()).isEqualTo(404);
            assertThat(keel.newTeam("logs-other-" + System.nanoTime()).get(base).status()).isEqualTo(404);

            // Following: the stream gives entries written after it opened.
            HttpClient client = HttpClient.newHttpClient();
            long opened = System.nanoTime();
            HttpResponse<InputStream> stream = client.send(api.request(base + "?follow=true&lines=1&level=error")
                    .header("Accept", "text/event-stream").GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(stream.statusCode()).isEqualTo(200);
            assertThat(stream.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
                CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> {
                    try {
                        String line;
                        while ((line = reader.readLine()) != null) {
                            if (line.startsWith("data:") && line.contains("follow_marker")) {
                                return line;
                            }
                        }
                        return "stream ended";
                    } catch (java.io.IOException e) {
                        return "stream failed: " + e;
                    }
                });
                assertThatThrownBy(() -> sql.execute("select 'x'::int as follow_marker")).isInstanceOf(SQLException.class);
                String event = seen.get(Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS);
                assertThat(Api.parse(event.substring("data:".length())).get("level").asText()).isEqualTo("ERROR");
                // It ends once KEEL_LOGS_FOLLOW_FOR has passed since it opened, as a Heroku tail ends after an hour.
                CompletableFuture<String> end = CompletableFuture.supplyAsync(() -> {
                    try {
                        while (reader.readLine() != null) {
                            // events, until the server ends the stream
                        }
                        return "ended";
                    } catch (java.io.IOException e) {
                        return "stream failed: " + e;
                    }
                });
                assertThat(end.get(SharedKeel.FOLLOW_FOR_SECONDS + Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ended");
                assertThat(Duration.ofNanos(System.nanoTime() - opened)).isGreaterThanOrEqualTo(Duration.ofSeconds(SharedKeel.FOLLOW_FOR_SECONDS));
            }
            // A stream that ended so gave its place back: the team may open all it may hold.
            List<HttpResponse<InputStream>> again = new ArrayList<>();
            try {
                for (int i = 0; i < SharedKeel.FOLLOW_MAX_PER_TEAM; i++) {
                    again.add(client.send(api.request(base + "?follow=true").header("Accept", "text/event-stream").GET().build(),
                            HttpResponse.BodyHandlers.ofInputStream()));
                    assertThat(again.get(i).statusCode()).isEqualTo(200);
                }
            } finally {
                for (HttpResponse<InputStream> open : again) {
                    open.body().close();
                }
            }
        } finally {
            api.deprovision(id);
        }
    }
}
