package dev.keel.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A real Prometheus server (Debian's {@code prometheus} package) on a loopback port, scraping one
 * target every second, with its data in a scratch directory. Queried through its HTTP API.
 */
public final class Prometheus implements AutoCloseable {
    private final Process process;
    private final Api api;

    private Prometheus(Process process, Api api) {
        this.process = process;
        this.api = api;
    }

    /** Starts Prometheus scraping {@code target} ({@code host:port}) at {@code /metrics}, optionally with a bearer token. */
    public static Prometheus scraping(String target, String bearerToken) throws IOException {
        Path binary = Tools.require("prometheus", "prometheus");
        Path dir = Files.createTempDirectory(TestKeel.workDir(), "prometheus");
        String auth = bearerToken == null ? "" : "    authorization:\n      credentials: " + bearerToken + "\n";
        Files.writeString(dir.resolve("prometheus.yml"), "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                + "scrape_configs:\n  - job_name: keel\n    metrics_path: /metrics\n" + auth
                + "    static_configs:\n      - targets: ['" + target + "']\n");
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        Process process = new ProcessBuilder(List.of(binary.toString(), "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port))
                .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
        Prometheus prometheus = new Prometheus(process, new Api("http://127.0.0.1:" + port, null));
        try {
            Wait.until("Prometheus to be ready", Timeouts.KEEL_START, () -> process.isAlive() && prometheus.api.get("/-/ready").status() == 200);
        } catch (RuntimeException | AssertionError e) {
            prometheus.close();
            throw new AssertionError("Prometheus did not start; its log: " + Files.readString(dir.resolve("prometheus.log")), e);
        }
        return prometheus;
    }

    /** The result vector of an instant PromQL query. */
    public JsonNode query(String promql) {
        Api.Response r = api.get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        if (r.status() != 200 || !"success".equals(r.field("status"))) {
            throw new AssertionError("Prometheus answered " + r);
        }
        return r.json().get("data").get("result");
    }

    /** The single value of {@code promql}, once the query has exactly one series. */
    public Optional<Double> value(String promql) {
        JsonNode result = query(promql);
        return result.size() == 1 ? Optional.of(result.get(0).get("value").get(1).asDouble()) : Optional.empty();
    }

    /** The health of the scrape target as Prometheus sees it ("up", "down", "unknown") and its last error. */
    public String targetHealth() {
        JsonNode targets = api.get("/api/v1/targets").json().get("data").get("activeTargets");
        return targets.size() == 0 ? "none" : targets.get(0).get("health").asText() + " " + targets.get(0).get("lastError").asText();
    }

    @Override
    public void close() {
        Footprint.stop(process);
    }

}
