package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.Footprint;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keel on its own "host" (network namespace, see {@link Hosts}) with its catalog on another: while
 * the catalog's host is cut off, the databases Keel runs keep taking writes; once the link is
 * healed, Keel works again without a restart. During the cut every request is answered 503
 * unavailable, none hangs: a catalog connection waits at most 5 s to connect, a request 10 s for a
 * connection, and a statement 30 s on a dead socket. The database is premium, its commits
 * synchronous: a standby that hangs during the cut holds them back no longer than the grace (the
 * HA monitor's failsafe lets them go without the catalog).
 */
class CatalogPartitionIT {
    private static final MavenArtifacts.Coordinates S3PROXY =
            new MavenArtifacts.Coordinates("org.gaul", "s3proxy", "2.6.0", "jar-with-dependencies");

    @Test
    void aNodeCutOffFromItsCatalogKeepsItsDatabasesWritableAndWorksAgainOnceHealed() throws Exception {
        List<String> observed = new ArrayList<>();
        try (Hosts hosts = Hosts.create("db", "node-a")) {
            Hosts.Host db = hosts.host("db");
            Hosts.Host nodeA = hosts.host("node-a");
            try (CatalogServer catalog = CatalogServer.start(db, TestKeel.freshDataDir("netns-catalog"), hosts.cidr())) {
                Path dataDir = TestKeel.freshDataDir("netns-node-a");
                provideS3Proxy(dataDir);
                Map<String, String> env = new HashMap<>(KeelProcess.NO_POOL);
                env.put("KEEL_CATALOG_URL", catalog.url());
                env.put("KEEL_BIND", nodeA.address());
                env.put("KEEL_NODE_NAME", nodeA.name());
                KeelProcess keel = KeelProcess.start(nodeA.command(KeelProcess.command()), dataDir, TestKeel.nextPorts(), "0", env);
                List<String> databases = new ArrayList<>();
                try {
                    Api api = keel.api();
                    JsonNode first = api.provision("{\"plan\":\"premium-0\"}");
                    databases.add(first.get("id").asText());
                    // Commits wait for the standby, and its build has ended (status Available: the standby is running, not
                    // still being made). The monitor turns synchronous commit on as soon as the standby streams, while the
                    // build still reads the catalog; cut then, the build fails and removes the standby it made.
                    Wait.until("commits to wait for the standby, its build ended", Duration.ofMinutes(4), () -> {
                        JsonNode ha = api.get("/v1/databases/" + first.get("id").asText() + "/ha").json();
                        JsonNode synchronous = ha.get("synchronous");
                        return synchronous != null && synchronous.asBoolean() && "Available".equals(ha.path("status").asText());
                    });
                    int standbyPort = api.get("/v1/databases/" + first.get("id").asText() + "/ha").json().get("standby_port").asInt();
                    String url = first.get("url").asText();
                    assertThat(URI.create(url).getHost()).isEqualTo(nodeA.address());
                    try (Connection rows = catalog.connect()) {
                        assertThat(Pg.scalar(rows, "select state from databases where id = '" + first.get("id").asText() + "'"))
                                .isEqualTo("available");
                    }
                    Path ca = dataDir.resolveSibling("netns-node-a-client-ca.pem");
                    Files.writeString(ca, api.get("/v1/ca.pem").text());

                    try (Connection writer = Pg.connect(url, ca)) {
                        execute(writer, "create table writes (n int primary key, at timestamptz default now())");
                        execute(writer, "insert into writes (n) values (0)");

                        db.cut();
                        Instant cut = Instant.now();
                        // The database's server lives on node-a: a session opened before the cut and one opened
                        // on node-a during it both write.
                        execute(writer, "insert into writes (n) values (1)");
                        psqlOn(nodeA, url, ca, "insert into writes (n) values (2)");
                        observed.add("writes during the cut: ok");

                        // Every request Keel answers needs the catalog (the API key is looked up there): asked at once, with
                        // patience beyond every catalog timeout.
                        String id = first.get("id").asText();
                        ExecutorService clients = Executors.newFixedThreadPool(3);
                        try {
                            Future<Answer> health = clients.submit(() -> probe(api, api.request("/health").GET()));
                            Future<Answer> read = clients.submit(() -> probe(api, api.request("/v1/databases/" + id).GET()));
                            Future<Answer> provision = clients.submit(() -> probe(api, api.request("/v1/databases")
                                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"plan\":\"essential-0\"}"))));
                            Map<String, Answer> cutAnswers = new LinkedHashMap<>();
                            cutAnswers.put("GET /health", health.get(Timeouts.CATALOG_CUT_REQUEST.toSeconds() + 5, TimeUnit.SECONDS));
                            cutAnswers.put("GET /v1/databases/{id}", read.get(Timeouts.CATALOG_CUT_REQUEST.toSeconds() + 5, TimeUnit.SECONDS));
                            cutAnswers.put("POST /v1/databases", provision.get(Timeouts.CATALOG_CUT_REQUEST.toSeconds() + 5, TimeUnit.SECONDS));
                            cutAnswers.forEach((asked, answer) -> observed.add(asked + " asked at the cut: " + answer));
                            if (cutAnswers.get("POST /v1/databases").status() == 202) {
                                databases.add(cutAnswers.get("POST /v1/databases").response().field("id"));
                            }
                            // Nothing succeeds, and nothing hangs: every request is answered 503 unavailable once the catalog
                            // pool's wait for a connection (10 s) or a statement's wait on a dead socket (30 s) runs out.
                            assertThat(cutAnswers.get("GET /health").response()).as(cutAnswers.get("GET /health").toString())
                                    .isNotNull().extracting(Api.Response::text).isEqualTo("{\"type\":\"/problems/unavailable\","
                                            + "\"title\":\"Service unavailable\",\"status\":503,\"detail\":\"Keel cannot reach its catalog.\","
                                            + "\"instance\":\"/health\"}");
                            for (String asked : List.of("GET /v1/databases/{id}", "POST /v1/databases")) {
                                Answer answer = cutAnswers.get(asked);
                                assertThat(answer.response()).as(asked + ": " + answer).isNotNull();
                                assertThat(answer.status()).as(asked + ": " + answer).isEqualTo(503);
                                assertThat(answer.response().contentType()).isEqualTo("application/problem+json");
                                assertThat(answer.response().field("type")).isEqualTo("/problems/unavailable");
                                assertThat(answer.response().field("detail")).startsWith("Keel cannot reach its catalog, so the request was not carried out, or not all of it");
                                assertThat(answer.took()).as(asked).isLessThan(Duration.ofSeconds(40));
                            }
                            execute(writer, "insert into writes (n) values (3)");
                            observed.add("a write " + since(cut) + " into the cut: ok");

                            // The standby hangs while the catalog is out of reach: the commit waits for it, and the failsafe lets it
                            // go after the grace (5 s) and a check or two.
                            Wait.until("the HA monitor to notice the cut", Timeouts.CATALOG_CUT_REQUEST,
                                    () -> keel.log().contains("The HA monitor cannot reach the catalog"));
                            long postmaster = Long.parseLong(Files.readAllLines(Path.of(Footprint.dataDirServing(dataDir, standbyPort),
                                    "postmaster.pid")).get(0).strip());
                            // The whole server hangs, its WAL receiver with it (the postmaster alone does not receive).
                            try {
                                Footprint.stopServer(postmaster);
                                Instant asked = Instant.now();
                                Future<?> held = clients.submit(() -> {
                                    execute(writer, "insert into writes (n) values (4)");
                                    return null;
                                });
                                held.get(30, TimeUnit.SECONDS);
                                Duration took = Duration.between(asked, Instant.now());
                                observed.add("a commit with the standby hung, during the cut: acknowledged after " + took.toMillis() + " ms");
                                assertThat(took).isGreaterThan(Duration.ofSeconds(4));
                                // Not held by a check of the database that waits on a catalog connection the cut left hanging.
                                assertThat(took).isLessThan(Duration.ofSeconds(15));
                                // The failsafe lets the commits go, then logs: the line may follow the acknowledgement by a moment.
                                Wait.until("the failsafe to log that the database is degraded", Duration.ofSeconds(10),
                                        () -> keel.log().contains("degraded: writes are acknowledged before they reach the standby"));
                            } finally {
                                Footprint.resumeServer(postmaster);
                            }

                            db.heal();
                            Instant healed = Instant.now();
                            Wait.until("Keel's /health to answer 200 after the heal", Timeouts.CATALOG_CUT_REQUEST,
                                    () -> probe(api, api.request("/health").GET()).status() == 200);
                            observed.add("/health answered 200 again " + since(healed) + " after the heal");
                            JsonNode second = api.provision("{\"plan\":\"essential-0\"}");
                            databases.add(second.get("id").asText());
                            observed.add("a second provision was available " + since(healed) + " after the heal");
                            assertThat(Pg.scalar(writer, "select count(*) from writes")).isEqualTo("5");
                        } finally {
                            clients.shutdownNow();
                        }
                    }
                } finally {
                    db.heal();
                    System.out.println("CatalogPartitionIT observed:\n  " + String.join("\n  ", observed));
                    for (String id : databases) {
                        keel.api().deprovision(id);
                    }
                    keel.stop();
                    Keel.stopServers(dataDir);
                }
            }
        }
    }

    /**
     * A host reaches nothing beyond the bridge, so the node's embedded S3 cannot download S3Proxy: it is fetched here
     * (the artifact {@code EmbeddedS3} runs) into the downloads directory the node looks in.
     */
    private static void provideS3Proxy(Path dataDir) throws IOException {
        new MavenArtifacts("https://repo.maven.apache.org/maven2", System.getProperty("user.home") + "/.m2/repository")
                .resolve(S3PROXY, dataDir.resolve("s3").resolve("downloads"));
    }

    /** What one request answered, or how it failed, and how long it took. */
    private record Answer(Duration took, Api.Response response, String failure) {
        int status() {
            return response == null ? -1 : response.status();
        }

        @Override
        public String toString() {
            return (response != null ? response.toString() : failure) + " after " + took.toMillis() + " ms";
        }
    }

    /** Sends {@code request} with the patience of {@link Timeouts#CATALOG_CUT_REQUEST}; a timeout is an answer too. */
    private static Answer probe(Api api, HttpRequest.Builder request) {
        Instant start = Instant.now();
        try {
            Api.Response response = api.send(request.timeout(Timeouts.CATALOG_CUT_REQUEST));
            return new Answer(Duration.between(start, Instant.now()), response, null);
        } catch (UncheckedIOException e) {
            return new Answer(Duration.between(start, Instant.now()), null, e.getCause().toString());
        }
    }

    private static String since(Instant start) {
        return Duration.between(start, Instant.now()).toMillis() + " ms";
    }

    private static void execute(Connection connection, String sql) throws Exception {
        try (var statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    /** {@code psql -c sql} run on {@code host}, verifying the server's certificate against {@code ca}. */
    private static void psqlOn(Hosts.Host host, String url, Path ca, String sql) throws Exception {
        Process psql = host.exec("psql", url.split("\\?")[0] + "?sslmode=verify-full&sslrootcert=" + ca + "&connect_timeout=10", "-v", "ON_ERROR_STOP=1",
                "-c", sql).redirectErrorStream(true).start();
        String output = new String(psql.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(psql.waitFor(Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(psql.exitValue()).as("psql on %s: %s", host, output).isZero();
    }
}
