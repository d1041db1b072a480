package dev.keel.ops;

import dev.keel.testing.KeelProcess;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
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
