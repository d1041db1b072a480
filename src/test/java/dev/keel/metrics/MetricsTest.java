package dev.keel.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.Prometheus;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.sql.Connection;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real Prometheus scrapes the shared Keel's {@code /metrics} every second; through Prometheus'
 * HTTP API the series of a live database exist, carry its name, team and plan, and move when
 * the database does.
 */
@ExtendWith(SharedKeel.class)
class MetricsTest {
    @Test
    void prometheusScrapesTheSeriesOfALiveDatabaseAndTheyMove(TestKeel keel) throws Exception {
        String team = "metrics-" + System.nanoTime();
        Api api = keel.newTeam(team);
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String id = db.get("id").asText();
        String name = db.get("name").asText();
        String url = db.get("url").asText();
        String target = URI.create(keel.api().baseUrl()).getAuthority();
        try (Prometheus prometheus = Prometheus.scraping(target, null)) {
            String labels = "{database=\"" + name + "\",team=\"" + team + "\",plan=\"standard-0\"}";
            Wait.until("Prometheus to see " + name + " up (target: " + prometheus.targetHealth() + ")", Timeouts.METRICS,
                    () -> prometheus.value("keel_database_up" + labels).filter(v -> v == 1.0).isPresent());
            double sizeBefore = prometheus.value("keel_database_size_bytes" + labels).orElseThrow();
            assertThat(prometheus.value("keel_database_xid_age" + labels)).isPresent();
            assertThat(prometheus.value("keel_database_failovers" + labels)).contains(0.0);
            assertThat(prometheus.value("keel_database_archive_lag_seconds" + labels)).isPresent();
            assertThat(prometheus.value("keel_database_connections{database=\"" + name + "\",state=\"idle\"}")).isPresent();
            Wait.until("the first backup's age", Timeouts.PROVISION,
                    () -> prometheus.value("keel_database_backup_last_age_seconds" + labels).isPresent());
            assertThat(prometheus.value("keel_database_first_recoverability_point_seconds" + labels).orElseThrow())
                    .isGreaterThan(1.7e9);

            try (Connection c = Pg.connect(url, keel.caFile()); Statement sql = c.createStatement()) {
                Wait.until("an idle connection to be counted", Timeouts.METRICS, () -> prometheus
                        .value("keel_database_connections{database=\"" + name + "\",state=\"idle\"}").filter(v -> v >= 1).isPresent());
                sql.execute("create table filler as select g, repeat('x', 500) as pad from generate_series(1, 20000) g");
                Wait.until("the size to grow past " + sizeBefore, Timeouts.METRICS,
                        () -> prometheus.value("keel_database_size_bytes" + labels).filter(v -> v > sizeBefore + 5_000_000).isPresent());
                // The first base backup made the server hand off a WAL segment.
                Wait.until("the server's last hand-off of WAL to be seen", Timeouts.METRICS,
                        () -> prometheus.value("keel_database_archive_last_archived_seconds" + labels).isPresent());
            }

            // The control plane's own series: HTTP latency by route template and status, operations, the JVM.
            assertThat(prometheus.query("http_server_requests_seconds_count{uri=\"/v1/databases/{idOrName}\",status=\"200\"}")
                    .size()).isPositive();
            assertThat(prometheus.query("keel_operation_duration_seconds_count{kind=\"provision\",state=\"succeeded\"}").size()).isPositive();
            assertThat(prometheus.value("keel_operations_queued")).isPresent();
            assertThat(prometheus.query("keel_operations_running").size()).isPositive();
            assertThat(prometheus.query("jvm_memory_used_bytes").size()).isPositive();
        } finally {
            api.deprovision(id);
        }
        // Labels carry names, never secrets: no password nor connection URL appears in the scrape.
        String password = URI.create(url).getUserInfo().split(":")[1];
        String scraped = keel.api().withKey(null).get("/metrics").text();
        assertThat(scraped).doesNotContain(password).doesNotContain("postgres://").doesNotContain(keel.api().key());
        // A deleted database's series go with it.
        Wait.until("the series of the deleted " + name + " to go", Timeouts.METRICS,
                () -> !keel.api().withKey(null).get("/metrics").text().contains("database=\"" + name + "\""));
    }

    /** Without a token, over loopback: a scrape of Keel's own machine is served, one a proxy forwarded (saying so) is not. */
    @Test
    void withoutATokenOnlyLoopbackThatNoProxyForwardedMayScrape(TestKeel keel) {
        Api anonymous = keel.api().withKey(null);
        assertThat(anonymous.get("/metrics").status()).isEqualTo(200);
        for (String header : new String[] {"X-Forwarded-For", "Forwarded", "X-Real-IP"}) {
            Api.Response forwarded = anonymous.send(anonymous.request("/metrics").header(header, header.equals("Forwarded")
                    ? "for=203.0.113.9" : "203.0.113.9").GET());
            assertThat(forwarded.status()).as(header + ": " + forwarded).isEqualTo(403);
            assertThat(forwarded.field("type")).isEqualTo("/problems/forbidden");
        }
    }

    @Test
    void aMetricsTokenIsRequiredOnceConfigured() {
        try (TestKeel keel = TestKeel.start("metrics-token", java.util.Map.of("keel.metrics.token", "scrape-secret"))) {
            Api anonymous = keel.api().withKey(null);
            Api.Response refused = anonymous.get("/metrics");
            assertThat(refused.status()).isEqualTo(401);
            assertThat(refused.field("type")).isEqualTo("/problems/unauthorized");
            assertThat(keel.api().get("/metrics").status()).as("an API key is not the metrics token").isEqualTo(401);
            Api.Response scraped = anonymous.send(anonymous.request("/metrics").header("Authorization", "Bearer scrape-secret").GET());
            assertThat(scraped.status()).isEqualTo(200);
            assertThat(scraped.contentType()).startsWith("text/plain");
            assertThat(scraped.text()).contains("keel_operations_queued");
        }
    }
}
