package dev.keel.ops;

import dev.keel.testing.Tools;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docker-compose.yml is valid for Debian's docker-compose ({@code config}), and says what the
 * operator's kit promises: Keel, a catalog and an object store, each with a volume and a health
 * check; Keel with every capability dropped but those per-instance accounts need; only
 * environment variables Keel reads.
 */
class DockerComposeTest {
    @Test
    @SuppressWarnings("unchecked")
    void theComposeFileIsValidAndCarriesVolumesHealthChecksAndFewCapabilities() throws Exception {
        Path compose = Tools.require("docker-compose", "docker-compose");
        Process config = new ProcessBuilder(compose.toString(), "-f", "docker-compose.yml", "config").redirectErrorStream(true).start();
        String out = new String(config.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(config.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(config.exitValue()).as(out).isZero();

        Map<String, Object> resolved = new Yaml().load(out);
        Map<String, Map<String, Object>> services = (Map<String, Map<String, Object>>) resolved.get("services");
        assertThat(services).containsOnlyKeys("keel", "catalog", "s3");
        for (Map.Entry<String, Map<String, Object>> service : services.entrySet()) {
            assertThat(service.getValue()).as(service.getKey()).containsKeys("healthcheck", "volumes");
        }
        assertThat(((Map<String, Object>) resolved.get("volumes"))).containsKeys("keel-data", "catalog-data", "s3-data");
        Map<String, Object> keel = services.get("keel");
        assertThat((List<String>) keel.get("cap_drop")).containsExactly("ALL");
        assertThat((List<String>) keel.get("cap_add")).containsExactlyInAnyOrder("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL");
        assertThat(keel.get("depends_on").toString()).contains("service_healthy");
        assertThat(((Map<String, Object>) keel.get("build")).get("dockerfile")).isEqualTo("ops/docker/Dockerfile");

        // Every KEEL_ variable the file sets is one Keel reads (a property of application.yml).
        String application = Files.readString(Path.of("src/main/resources/application.yml"));
        Matcher variables = Pattern.compile("(KEEL_[A-Z0-9_]+):").matcher(Files.readString(Path.of("docker-compose.yml")));
        int seen = 0;
        while (variables.find()) {
            seen++;
            String[] words = variables.group(1).substring("KEEL_".length()).toLowerCase().split("_");
            assertThat(application).as(variables.group(1)).containsPattern(String.join("[\\s\\S]*", words) + "[-a-z]*:");
        }
        assertThat(seen).isGreaterThan(5);
    }

    @Test
    void theImageStartsKeelThroughItsStartCommandWhichExitsOnOutOfMemory() throws Exception {
        String dockerfile = Files.readString(Path.of("ops/docker/Dockerfile"));
        assertThat(dockerfile).contains("ENTRYPOINT [\"/usr/local/bin/keel-start\"]").contains("COPY ops/docker/keel-start");
        assertThat(Files.readString(Path.of("ops/docker/keel-start"))).contains("-XX:+ExitOnOutOfMemoryError");
        assertThat(Files.isExecutable(Path.of("ops/docker/keel-start"))).isTrue();
    }
}
