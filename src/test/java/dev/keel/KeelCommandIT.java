package dev.keel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Footprint;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.OutOfMemoryAgent;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The commands the README and runbooks give an operator, run as they would run them, from target/keel.jar. */
// Minutes long: started among the first (junit-platform.properties).
@Order(11)
class KeelCommandIT {

    @Test
    void stopStopsEveryServerAKilledKeelLeftUnderTheDataDirectory() throws Exception {
        Path dataDir = TestKeel.freshDataDir("command-stop");
        TestKeel.Ports ports = TestKeel.nextPorts();
        String secretKey = java.util.Base64.getEncoder().encodeToString(dev.keel.RandomStrings.bytes(32));
        Map<String, String> env = Map.of("KEEL_INSTANCES_POOL_SIZE", "0", "KEEL_SECRET_KEY", secretKey);
        KeelProcess keel = KeelProcess.start(dataDir, ports, "0", env);
        JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
        // Keel's secrets stay in Keel: the server account could read a postmaster's environment.
        String served = Footprint.dataDirServing(dataDir, dev.keel.testing.Pg.port(database.get("url").asText()));
        String postmaster = java.nio.file.Files.readAllLines(java.nio.file.Path.of(served, "postmaster.pid")).get(0).strip();
        String environment = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", postmaster, "environ"));
        assertThat(environment).doesNotContain(secretKey).doesNotContain("KEEL_");
        // Killed, as the runbook's "stop everything" case has it: servers and the embedded S3 server stay behind.
        keel.kill9();
        assertThat(Footprint.runningInstanceDataDirs(dataDir)).hasSize(1);
        ProcessHandle s3 = ProcessHandle.of(Footprint.s3ProxyPid(dataDir)).orElseThrow();
        assertThat(s3.isAlive()).isTrue();

        ProcessBuilder withDataDir = new ProcessBuilder(KeelProcess.command("stop"))
                .redirectErrorStream(true)
                .redirectOutput(dataDir.resolveSibling("command-stop-stop.log").toFile());
        withDataDir.environment().put("KEEL_DATA_DIR", dataDir.toString());
        Process stop = withDataDir.start();
        assertThat(stop.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(stop.exitValue()).isZero();
        assertThat(Footprint.runningInstanceDataDirs(dataDir)).isEmpty();
        assertThat(dev.keel.postgres.Postmaster.isRunning(KeelHome.serverDirOf(dataDir).resolve("catalog/data"))).isFalse();
        assertThat(Footprint.portIsFree(dev.keel.testing.Pg.port(database.get("url").asText()))).isTrue();
        assertThat(s3.isAlive()).isFalse();
        assertThat(java.nio.file.Files.readString(dataDir.resolveSibling("command-stop-stop.log")))
                .contains("stopping the embedded S3 server (pid " + s3.pid() + ")")
                .contains("stopping the server of " + KeelHome.serverDirOf(dataDir).resolve("catalog/data"));

        // Everything comes back on the next start: catalog, then the database's server.
        keel = KeelProcess.start(dataDir, ports, "1", env);
        try (var connection = dev.keel.testing.Pg.connect(database.get("url").asText(), dataDir.resolve("ca.pem"))) {
            assertThat(dev.keel.testing.Pg.scalar(connection, "select 1")).isEqualTo("1");
        }
        keel.api().deprovision(database.get("id").asText());
        keel.stop();
        Keel.stopServers(dataDir);
    }

    /**
     * A newcomer who is root runs the README's command from a clone under a private home (0700):
     * Keel starts, says where Postgres's files went, and a database serves, with the home's
     * permissions untouched.
     */
    @Test
    void asRootFromAPrivateHomeTheReadmesCommandJustWorks() throws Exception {
        assumeTrue(KeelHome.runsAsRoot(), "the private-home problem exists only for a Keel that runs Postgres as other accounts");
        Path home = TestKeel.freshDataDir("private-home");
        Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwx------"));
        Path dataDir = home.resolve("keel").resolve("var");
        TestKeel.removeLeftoverServers(dataDir);
        Files.createDirectories(dataDir);
        Path servers = null;
        // Binaries unpacked where Keel puts them by default, not in the suite's shared directory.
        KeelProcess keel = KeelProcess.start(dataDir, TestKeel.nextPorts(), "0", Map.of("KEEL_INSTANCES_POOL_SIZE", "0",
                "KEEL_POSTGRES_INSTALL_DIR", ""));
        try {
            servers = KeelHome.serverDirOf(dataDir);
            assertThat(servers).startsWith(Path.of("/var/lib/keel"));
            assertThat(keel.log()).contains("  server directory:  " + servers + " (instances, catalog cluster, binaries: what Postgres"
                    + " reaches)").contains("  OS accounts:       one per instance (keel-<instance id>)");
            JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
            try (var connection = dev.keel.testing.Pg.connect(database.get("url").asText(), dataDir.resolve("ca.pem"))) {
                assertThat(dev.keel.testing.Pg.scalar(connection, "select 1")).isEqualTo("1");
            }
            assertThat(Files.getPosixFilePermissions(home)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            assertThat(Files.getPosixFilePermissions(dataDir)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            keel.api().deprovision(database.get("id").asText());
        } finally {
            keel.stop();
            Keel.stopServers(dataDir);
            if (servers != null) {
                FileTrees.delete(servers);
            }
        }
    }

    @Test
    void anOutOfMemoryErrorInsideKeelEndsTheProcessForASupervisorToRestartIt() throws Exception {
        Path dataDir = TestKeel.freshDataDir("command-oom");
        TestKeel.Ports ports = TestKeel.nextPorts();
        try {
            // Started as the README says, with -XX:+ExitOnOutOfMemoryError: the JVM ends itself.
            KeelProcess keel = KeelProcess.start(dataDir, ports, "readme", KeelProcess.NO_POOL);
            assertThat(keel.log()).doesNotContain("without -XX:+ExitOnOutOfMemoryError");
            OutOfMemoryAgent.inject(keel.pid());
            assertThat(keel.awaitExit(Timeouts.PROCESS_EXIT)).isEqualTo(3);
            assertThat(keel.log()).contains("Terminating due to java.lang.OutOfMemoryError");

            // Started without it: Keel's own handler ends the process all the same, saying why, and the banner warned.
            keel = KeelProcess.start(dataDir, ports, "plain", KeelProcess.NO_POOL, List.of());
            assertThat(keel.log()).contains("warning:           java runs without -XX:+ExitOnOutOfMemoryError");
            OutOfMemoryAgent.inject(keel.pid());
            assertThat(keel.awaitExit(Timeouts.PROCESS_EXIT)).isEqualTo(Fatal.STATUS);
            assertThat(keel.log()).contains("keel: fatal: java.lang.OutOfMemoryError: Java heap space in thread keel-test-out-of-memory;"
                    + " exiting with status 3 for a supervisor to restart Keel");
        } finally {
            Keel.stopServers(dataDir);
        }
    }

    @Test
    void aSecretKeyThatDoesNotMatchTheCatalogStopsKeelSayingSo() {
        String key = java.util.Base64.getEncoder().encodeToString(dev.keel.RandomStrings.bytes(32));
        TestKeel keel = TestKeel.start("wrong-key", Map.of("keel.secret-key", key));
        try {
            keel.stopControlPlane();
            String other = java.util.Base64.getEncoder().encodeToString(dev.keel.RandomStrings.bytes(32));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> keel.startControlPlane(Map.of("keel.secret-key", other)))
                    .isInstanceOf(StartupException.class)
                    .hasMessage("the secret key from KEEL_SECRET_KEY is not the key this catalog's secrets were sealed with;"
                            + " start Keel with the original KEEL_SECRET_KEY (or <data dir>/secret-key)");
            keel.startControlPlane(Map.of("keel.secret-key", key));
            assertThat(keel.api().get("/v1/databases").status()).isEqualTo(200);
        } finally {
            keel.close();
        }
    }
}
