package dev.keel.ops;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Tools;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Runs every fenced {@code sh} block of {@code ops/runbooks/*.md}, file by file and in order,
 * against a scratch Keel started from target/keel.jar, in a directory where {@code target/keel.jar}
 * and {@code var} are that Keel's jar and data directory, as the runbooks assume. A block must exit
 * 0. Comments just before a block direct the run:
 * <ul>
 * <li>{@code <!-- test: expect TEXT -->}: the block's output must contain TEXT (several may be given);</li>
 * <li>{@code <!-- test: with Keel stopped -->}: Keel is stopped before the block and started again after it;</li>
 * <li>{@code <!-- test: skip REASON -->}: the block is not run, for the reason given (keep these rare).</li>
 * </ul>
 * Placeholders are filled from the scratch installation: {@code $KEY} (the admin key), {@code <id>}
 * and {@code <database id>} (a database made for the run), {@code <copy>} (another one, which a
 * runbook may delete), {@code <url>}, {@code <team id>}; {@code 127.0.0.1:5480} is the scratch
 * Keel's address.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(8)
class RunbooksIT {
    private static final Pattern BLOCK = Pattern.compile("((?:<!-- test: [^>]*-->\\s*\\n)*)```sh\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern DIRECTIVE = Pattern.compile("<!-- test: (expect|skip|with Keel stopped)\\s*([^>]*?)\\s*-->");
    private static final int BLOCK_SECONDS = 300;

    @Test
    void everyShellBlockOfEveryRunbookRunsAndSaysWhatItDocuments() throws Exception {
        Tools.require("psql", "postgresql-client");
        Path home = TestKeel.freshDataDir("runbooks");
        Path dataDir = home.resolve("var");
        TestKeel.removeLeftoverServers(dataDir);
        Files.createDirectories(home.resolve("target"));
        Files.createSymbolicLink(home.resolve("target/keel.jar"), Path.of(System.getProperty("keel.test.jar", "target/keel.jar")).toAbsolutePath());
        TestKeel.Ports ports = TestKeel.nextPorts();
        Map<String, String> env = Map.of("KEEL_INSTANCES_POOL_SIZE", "0");
        KeelProcess keel = null;
        int ran = 0;
        int skipped = 0;
        try {
            keel = KeelProcess.start(dataDir, ports, "0", env);
            JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
            JsonNode copy = keel.api().provision("{\"plan\":\"essential-0\"}");
            // A database's first backup starts a few seconds after it is available; the runbooks' own backups come after it.
            awaitInitialBackup(keel.api(), database.get("id").asText());
            Map<String, String> values = new LinkedHashMap<>();
            values.put("<id>", database.get("id").asText());
            values.put("<database id>", database.get("id").asText());
            values.put("<copy>", copy.get("id").asText());
            values.put("<url>", database.get("url").asText());
            values.put("<team id>", keel.api().get("/v1/teams").json().get(0).get("id").asText());
            List<Path> runbooks;
            try (Stream<Path> files = Files.list(Path.of("ops/runbooks"))) {
                runbooks = files.filter(f -> f.toString().endsWith(".md")).sorted().toList();
            }
            assertThat(runbooks).hasSizeGreaterThanOrEqualTo(11);
            int start = 1;
            for (Path runbook : runbooks) {
                Matcher block = BLOCK.matcher(Files.readString(runbook));
                int n = 0;
                while (block.find()) {
                    n++;
                    String where = runbook.getFileName() + " block " + n;
                    List<String> expected = new ArrayList<>();
                    String skip = null;
                    boolean stopped = false;
                    Matcher directive = DIRECTIVE.matcher(block.group(1));
                    while (directive.find()) {
                        switch (directive.group(1)) {
                            case "expect" -> expected.add(directive.group(2));
                            case "skip" -> skip = directive.group(2);
                            default -> stopped = true;
                        }
                    }
                    if (skip != null) {
                        assertThat(skip).as(where + " is skipped without a reason").isNotBlank();
                        skipped++;
                        continue;
                    }
                    if (stopped) {
                        keel.stop();
                    }
                    String script = fill(block.group(2), values, keel.api().baseUrl().substring("http://".length()));
                    Process process = new ProcessBuilder("bash", "-e", "-o", "pipefail", "-c", script).directory(home.toFile())
                            .redirectErrorStream(true).start();
                    process.getOutputStream().close();
                    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    if (!process.waitFor(BLOCK_SECONDS, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                        fail(where + " did not finish in " + BLOCK_SECONDS + " s:\n" + script + "\n" + out);
                    }
                    assertThat(process.exitValue()).as(where + " exited non-zero:\n" + script + "\n--- output\n" + out).isZero();
                    for (String text : expected) {
                        assertThat(out).as(where + " should say '" + text + "':\n" + script + "\n--- output\n" + out).contains(text);
                    }
                    ran++;
                    if (stopped) {
                        keel = KeelProcess.start(dataDir, ports, Integer.toString(start++), env);
                    }
                }
            }
            assertThat(ran).isGreaterThan(skipped * 4);
        } finally {
            if (keel != null) {
                keel.close();
            }
            dev.keel.Keel.stopServers(dataDir);
            // Run as root, the servers' files are outside the data directory (freshDataDir clears only its own).
            if (!KeelHome.serverDirOf(dataDir).startsWith(home)) {
                FileTrees.delete(KeelHome.serverDirOf(dataDir));
            }
        }
    }

    private static String fill(String script, Map<String, String> values, String address) throws IOException {
        String filled = "KEY=$(cat var/admin-api-key)\n" + script.replace("127.0.0.1:5480", address);
        for (Map.Entry<String, String> value : values.entrySet()) {
            filled = filled.replace(value.getKey(), value.getValue());
        }
        return filled;
    }
}
