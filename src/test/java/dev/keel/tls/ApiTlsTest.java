package dev.keel.tls;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.TcpRelay;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLHandshakeException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Keel bound to an address beyond loopback (one this test adds to a veth pair, as root) speaks
 * only HTTPS, with a certificate of the installation's CA for that address: clients that trust the
 * CA verify it, those that do not refuse it, plain HTTP gets no answer, the banner and share URLs
 * say https, {@code /metrics} without a token is refused here (it is served over loopback only),
 * and the genuine Heroku CLI works with NODE_EXTRA_CA_CERTS.
 */
class ApiTlsTest {
    private static final int PORT_BASE = Integer.getInteger("keel.test.port-base", 26000);
    /** One link and address per port base, so that two suites on this machine do not meet. */
    private static final String LINK = "kv" + PORT_BASE;
    private static final String ADDRESS = "10.213." + (PORT_BASE / 100) % 256 + ".1";

    @Test
    void beyondLoopbackTheApiSpeaksOnlyHttpsWithACertificateOfKeelsCa() throws Exception {
        Assumptions.assumeTrue(ProcessHandle.current().info().user().map("root"::equals).orElse(false),
                "adding an address to bind to needs root; .ci/run runs as root");
        ip("link", "del", LINK); // a previous run's, if it was killed
        ip("link", "add", LINK, "type", "veth", "peer", "name", LINK + "p").assertOk();
        TestKeel keel = null;
        PrintStream out = System.out;
        try {
            ip("addr", "add", ADDRESS + "/32", "dev", LINK).assertOk();
            ip("link", "set", LINK, "up").assertOk();
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            try {
                keel = TestKeel.start("api-tls", Map.of("keel.bind", ADDRESS, "keel.instances.pool.size", 0));
            } finally {
                System.setOut(out);
            }
            Api api = keel.api();
            int port = URI.create(api.baseUrl()).getPort();
            assertThat(api.baseUrl()).isEqualTo("https://" + ADDRESS + ":" + port);
            assertThat(printed.toString(StandardCharsets.UTF_8))
                    .contains("  API:               https://" + ADDRESS + ":" + port + "/v1")
                    .contains("  CA certificate:    https://" + ADDRESS + ":" + port + "/v1/ca.pem (also " + keel.dataDir().resolve("ca.pem") + ")")
                    .contains("  API TLS:           HTTPS only (it listens beyond loopback), certificate from Keel's CA for " + ADDRESS);

            // Verified against the CA in the data directory, host name included; the CA served over it is that one.
            assertThat(api.get("/v1/plans").status()).isEqualTo(200);
            assertThat(api.get("/v1/ca.pem").text()).isEqualTo(Files.readString(keel.dataDir().resolve("ca.pem")));
            // A client that does not trust Keel's CA refuses the server; plain HTTP gets no HTTP answer at all.
            assertThatThrownBy(() -> new Api(api.baseUrl(), api.key()).get("/v1/plans"))
                    .isInstanceOf(UncheckedIOException.class).hasCauseInstanceOf(SSLHandshakeException.class);
            assertThatThrownBy(() -> new Api("http://" + ADDRESS + ":" + port, api.key()).get("/v1/plans"))
                    .isInstanceOf(UncheckedIOException.class);
            // Another node's requests (a server's log read where it runs) accept it: the API's certificate, marked so, for the host.
            HttpResponse<String> asNode = keel.bean(CertificateAuthority.class).nodeHttpClient(Duration.ofSeconds(10))
                    .send(HttpRequest.newBuilder(URI.create(api.baseUrl() + "/health")).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(asNode.statusCode()).as(asNode.body()).isEqualTo(200);

            // What names the API's URL says https: a dataclip's share link.
            JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
            String clip = api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"" + db.get("id").asText() + "\",\"sql\":\"select 1\"}")
                    .field("id");
            Api.Response shared = api.post("/v1/dataclips/" + clip + "/share", "");
            assertThat(shared.field("url")).startsWith("https://" + ADDRESS + ":" + port + "/dataclips/");
            assertThat(api.withKey(null).get(URI.create(shared.field("url")).getPath() + ".json").status()).isEqualTo(200);

            // Without a metrics token, /metrics (its series name every team's databases) is served over loopback only: not to
            // this address, whatever a forwarding header claims.
            Api anonymous = api.withKey(null);
            Api.Response metrics = anonymous.send(anonymous.request("/metrics").header("X-Forwarded-For", "127.0.0.1").GET());
            assertThat(metrics.status()).as(metrics.toString()).isEqualTo(403);
            assertThat(metrics.field("type")).isEqualTo("/problems/forbidden");
            assertThat(metrics.field("detail")).contains("set KEEL_METRICS_TOKEN");
            assertThat(metrics.text()).doesNotContain(db.get("name").asText());

            // The genuine Heroku CLI, which talks to no host but heroku.com's and localhost: through a tunnel to localhost (as
            // ssh -L gives), with Keel's CA added to Node's as the README says. Without the CA, Node refuses the server.
            assertThat(api.post("/v1/apps", "{\"name\":\"tlsapp\"}").status()).isEqualTo(201);
            // A log session's URL is a bearer token: asked over https, it says https, so that no client sends it in clear.
            Api.Response session = api.post("/apps/tlsapp/log-sessions", "{\"dyno\":\"postgres\",\"lines\":10}");
            assertThat(session.status()).as(session.toString()).isEqualTo(201);
            assertThat(session.field("logplex_url")).startsWith("https://" + ADDRESS + ":" + port + "/log-sessions/");
            try (TcpRelay tunnel = new TcpRelay(ADDRESS, port)) {
                HerokuCli heroku = HerokuCli.against(keel, api.key(), "https://localhost:" + tunnel.port());
                HerokuCli.Run listed = heroku.run("addons", "-a", "tlsapp");
                assertThat(listed.exit()).as(listed.toString()).isZero();
                assertThat(listed.all()).contains("No add-ons for app tlsapp.");
                HerokuCli.Run untrusted = heroku.withoutEnv("NODE_EXTRA_CA_CERTS").run("addons", "-a", "tlsapp");
                assertThat(untrusted.exit()).as(untrusted.toString()).isNotZero();
                assertThat(untrusted.all()).contains("self-signed certificate in certificate chain");
            }
        } finally {
            System.setOut(out);
            if (keel != null) {
                keel.close();
            }
            ip("link", "del", LINK);
        }
    }

    private record Ran(List<String> command, int exit, String output) {
        void assertOk() {
            assertThat(exit).as(String.join(" ", command) + ": " + output).isZero();
        }
    }

    private static Ran ip(String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return new Ran(command, process.exitValue(), output);
    }
}
