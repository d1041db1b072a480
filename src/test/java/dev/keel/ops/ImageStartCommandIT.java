package dev.keel.ops;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The image's start command ({@code ops/docker/keel-start}) run outside a container, on target/keel.jar. */
class ImageStartCommandIT {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final String JAR = System.getProperty("keel.test.jar", "target/keel.jar");

    @Test
    void theStartCommandServesKeelWithTheJvmSetToExitOnOutOfMemory() {
        Path dataDir = TestKeel.freshDataDir("image-start");
        try (KeelProcess keel = KeelProcess.start(List.of("ops/docker/keel-start"), dataDir, TestKeel.nextPorts(), "0",
                Map.of("KEEL_JAR", JAR, "JAVA", JAVA, "KEEL_INSTANCES_POOL_SIZE", "0"))) {
            assertThat(keel.api().withKey(null).get("/health").status()).isEqualTo(200);
            String commandLine = keel.handle().info().commandLine().orElse("");
            assertThat(commandLine).contains("-XX:+ExitOnOutOfMemoryError").contains("-jar " + JAR);
        } finally {
            dev.keel.Keel.stopServers(dataDir);
        }
    }

    /**
     * The image's own settings (its Dockerfile's {@code ENV}) outside a container: bound beyond
     * loopback, the API speaks only HTTPS, and the Dockerfile's {@code HEALTHCHECK} command passes
     * against it with the CA file it names. In the image the volume {@code /var/lib/keel} holds the
     * data directory ({@code data/}, 0700) and beside it the server directory Postgres' accounts
     * reach ({@code /var/lib/keel/<hash>}); here a temporary directory stands for the volume, and a
     * database is provisioned to prove the accounts reach their files.
     */
    @Test
    void theImagesSettingsServeHttpsThatPassesTheImagesHealthCheck() throws Exception {
        String dockerfile = Files.readString(Path.of("ops/docker/Dockerfile"));
        Map<String, String> env = new HashMap<>(imageEnv(dockerfile));
        assertThat(env).containsEntry("KEEL_DATA_DIR", "/var/lib/keel/data").containsKey("KEEL_BIND");
        Path volume = Files.createTempDirectory(Path.of("/tmp"), "keel-image-"); // a volume's mount point: searchable
        Files.setPosixFilePermissions(volume, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path dataDir = volume.resolve("data");
        String imageDataDir = env.remove("KEEL_DATA_DIR");
        env.remove("KEEL_PORT");
        env.remove("KEEL_INSTANCES_PORTS"); // the test's port blocks, not the image's
        env.remove("KEEL_POOLING_PORTS");
        env.putAll(Map.of("KEEL_JAR", JAR, "JAVA", JAVA, "KEEL_INSTANCES_POOL_SIZE", "0", "KEEL_PUBLIC_HOST", "localhost",
                "KEEL_SERVER_DIR", volume.resolve("servers").toString()));
        try (KeelProcess keel = KeelProcess.start(List.of("ops/docker/keel-start"), dataDir, TestKeel.nextPorts(), "0", env)) {
            assertThat(keel.api().baseUrl()).startsWith("https://");
            String port = keel.api().baseUrl().replaceAll(".*:", "");
            String check = healthCheck(dockerfile).replace(imageDataDir, dataDir.toString()).replace("5480", port);
            Process curl = new ProcessBuilder("sh", "-c", check).redirectErrorStream(true).start();
            String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(curl.waitFor(Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(curl.exitValue()).as(check + "\n" + out).isZero();
            assertThat(out).contains("\"status\"");
            Process plain = new ProcessBuilder("curl", "-fsS", "http://127.0.0.1:" + port + "/health").redirectErrorStream(true).start();
            plain.getInputStream().readAllBytes();
            assertThat(plain.waitFor(Timeouts.REQUEST.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(plain.exitValue()).as("plain HTTP to the image's API").isNotZero();
            if (KeelHome.runsAsRoot()) {
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir))).isEqualTo("rwx------");
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve("s3")))).isEqualTo("rwx------");
            }
            JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
            keel.api().deprovision(database.get("id").asText());
        } finally {
            dev.keel.Keel.stopServers(dataDir);
            FileTrees.delete(volume);
        }
    }

    /** The variables of the Dockerfile's {@code ENV} lines. */
    private static Map<String, String> imageEnv(String dockerfile) {
        Map<String, String> env = new HashMap<>();
        dockerfile.lines().filter(l -> l.startsWith("ENV ")).flatMap(l -> Arrays.stream(l.substring(4).trim().split("\\s+")))
                .map(pair -> pair.split("=", 2)).forEach(pair -> env.put(pair[0], pair[1]));
        return env;
    }

    /** The command of the Dockerfile's {@code HEALTHCHECK}. */
    private static String healthCheck(String dockerfile) {
        return dockerfile.lines().filter(l -> l.startsWith("HEALTHCHECK ")).map(l -> l.substring(l.indexOf(" CMD ") + 5))
                .findFirst().orElseThrow(() -> new AssertionError("the Dockerfile has no HEALTHCHECK"));
    }

    @Test
    void aJvmOutOfMemoryEndsTheProcessInsteadOfLimpingOn() throws Exception {
        Path dataDir = TestKeel.freshDataDir("image-oom");
        ProcessBuilder builder = new ProcessBuilder("ops/docker/keel-start", "--help").redirectErrorStream(true);
        builder.environment().putAll(Map.of("KEEL_JAR", JAR, "JAVA", JAVA, "KEEL_DATA_DIR", dataDir.toString(),
                "KEEL_JAVA_OPTS", "-Xmx12m -Xms12m -XX:TieredStopAtLevel=1"));
        Process starved = builder.start();
        String out = new String(starved.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(starved.waitFor(Timeouts.KEEL_START.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(starved.exitValue()).as(out).isNotZero();
        assertThat(out).contains("Terminating due to java.lang.OutOfMemoryError");
        dev.keel.Keel.stopServers(dataDir);
    }
}
