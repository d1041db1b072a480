package dev.keel.instances;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.postgres.Installation;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerCommands;
import dev.keel.postgres.ServerUser;
import dev.keel.postgres.ServerFiles;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Postgres servers outlive the control plane; a starting Keel reattaches, restarts what should run, removes orphans. */
class ReattachTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("reattach");
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void databasesKeepServingWhileKeelIsDownAndAfterItStartsAgain() throws Exception {
        JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
        String url = database.get("url").asText();
        Path ca = keel.caFile();
        try (Connection connection = Pg.connect(url, ca); var statement = connection.createStatement()) {
            statement.execute("create table kept (v text); insert into kept values ('before restart')");
        }

        keel.stopControlPlane();
        try (Connection connection = Pg.connect(url, ca)) {
            assertThat(Pg.scalar(connection, "select v from kept")).isEqualTo("before restart");
        }
        keel.startControlPlane();

        JsonNode after = keel.api().get("/v1/databases/" + database.get("id").asText()).json();
        assertThat(after.get("state").asText()).isEqualTo("available");
        assertThat(after.get("url").asText()).isEqualTo(url);
        try (Connection connection = Pg.connect(url, ca)) {
            assertThat(Pg.scalar(connection, "select v from kept")).isEqualTo("before restart");
        }
        keel.api().deprovision(database.get("id").asText());
    }

    @Test
    void aServerThatStoppedWhileKeelWasDownIsStartedAgain() throws Exception {
        JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
        String url = database.get("url").asText();
        Path instanceData = Path.of(Footprint.dataDirServing(keel.dataDir(), Pg.port(url)));

        keel.stopControlPlane();
        Postmaster.stop(instanceData, Duration.ofSeconds(30));
        assertThat(Postmaster.isRunning(instanceData)).isFalse();
        keel.startControlPlane();

        assertThat(Postmaster.isRunning(instanceData)).isTrue();
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
        }
        keel.api().deprovision(database.get("id").asText());
    }

    @Test
    void anInstanceTheCatalogDoesNotKnowIsStoppedAndSetAsideNotDeleted() throws Exception {
        UUID orphan = UUID.randomUUID();
        Path dir = keel.serverDir().resolve("instances").resolve(orphan.toString());
        ServerCommands commands = keel.bean(ServerCommands.class);
        ServerUser user = keel.bean(ServerAccounts.class).forInstance(orphan);
        Installation installation = keel.bean(PostgresBinaries.class).installation(17);
        user.createPrivateDirectory(dir);
        Path data = dir.resolve("data");
        commands.initdb(user, installation, data, "keel", "orphan-password");
        int port = dev.keel.postgres.PortRange.parse("32700-32767").firstFree(java.util.Set.of(), Footprint::portIsFree).orElseThrow();
        ServerFiles.writeSettings(data, InstanceConfig.settings("127.0.0.1", port, Map.of("ssl", "off")), user);
        commands.start(user, installation, data, dir.resolve("postgresql.log"));
        assertThat(Postmaster.isRunning(data)).isTrue();

        keel.stopControlPlane();
        keel.startControlPlane();

        assertThat(Postmaster.isRunning(data)).isFalse();
        assertThat(Files.exists(dir)).isFalse();
        assertThat(Footprint.portIsFree(port)).isTrue();
        try (var setAside = Files.list(keel.serverDir().resolve("orphans"))) {
            Path kept = setAside.filter(p -> p.getFileName().toString().startsWith(orphan + "-")).findFirst().orElseThrow();
            assertThat(kept.resolve("data/PG_VERSION")).exists();
        }
    }
}
