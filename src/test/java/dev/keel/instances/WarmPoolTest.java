package dev.keel.instances;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Provisioning from the warm pool: a pooled server becomes the database's, fitted to its plan, and the pool refills. */
class WarmPoolTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("warm-pool", Map.of("keel.instances.pool.size", 1));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    /** The data directory of the one pooled server, once it runs. */
    private static String awaitPooledServer(Set<String> besides) {
        return Wait.until("a pooled server to run", Timeouts.PROVISION, () -> {
            Set<String> running = new TreeSet<>(Footprint.runningInstanceDataDirs(keel.dataDir()));
            running.removeAll(besides);
            return running.size() == 1 && poolReady() ? java.util.Optional.of(running.iterator().next()) : java.util.Optional.empty();
        });
    }

    private static boolean poolReady() {
        return keel.bean(InstanceRepository.class).all().stream().anyMatch(i -> i.state() == InstanceState.POOLED);
    }

    @Test
    void aProvisionTakesThePooledServerAndThePoolRefills() throws Exception {
        Set<String> before = Footprint.runningInstanceDataDirs(keel.dataDir());
        String pooled = awaitPooledServer(Set.of());
        JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
        String url = database.get("url").asText();

        String served = dataDirServing(Pg.port(url));
        assertThat(served).isEqualTo(pooled);
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "select current_database()")).isEqualTo(Path.of(java.net.URI.create(url).getPath()).getFileName().toString());
            assertThat(Pg.scalar(connection, "select pg_get_userbyid(datdba) = current_user from pg_database where datname = current_database()")).isEqualTo("t");
            assertThat(Pg.scalar(connection, "select pg_get_userbyid(nspowner) = current_user from pg_namespace where nspname = 'public'")).isEqualTo("t");
            assertThat(Pg.scalar(connection, "select count(*) from pg_database where datname like 'pool_%'")).isEqualTo("0");
            assertThat(Pg.scalar(connection, "show max_connections")).isEqualTo("120");
            try (var statement = connection.createStatement()) {
                statement.execute("create table t (x int); insert into t values (42)");
            }
        }
        // The pooled server's pg_hba now admits the owner to its own database only.
        String otherDatabase = url.replaceFirst("/d[a-z0-9]+\\?", "/postgres?");
        assertThatThrownBy(() -> Pg.connect(otherDatabase, keel.caFile()).close())
                .isInstanceOf(SQLException.class).hasMessageContaining("no pg_hba.conf entry");

        String refilled = awaitPooledServer(Set.of(served));
        assertThat(refilled).isNotEqualTo(served);
        assertThat(before).doesNotContain(refilled);
        keel.api().deprovision(database.get("id").asText());
    }

    @Test
    void aPlanWithOtherLimitsRestartsThePooledServerWithThem() throws Exception {
        awaitPooledServer(Set.of());
        Set<String> pooled = Footprint.runningInstanceDataDirs(keel.dataDir());
        JsonNode database = keel.api().provision("{\"plan\":\"essential-0\"}");
        String url = database.get("url").asText();
        assertThat(pooled).contains(dataDirServing(Pg.port(url)));
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            assertThat(Pg.scalar(connection, "show max_connections")).isEqualTo("20");
        }
        keel.api().deprovision(database.get("id").asText());
    }

    @Test
    void pooledServersComeBackAfterTheyStopWhileKeelIsDown() {
        String pooled = awaitPooledServer(Set.of());
        keel.stopControlPlane();
        dev.keel.postgres.Postmaster.stop(Path.of(pooled), java.time.Duration.ofSeconds(30));
        keel.startControlPlane();
        assertThat(dev.keel.postgres.Postmaster.isRunning(Path.of(pooled))).isTrue();
    }

    private static String dataDirServing(int port) {
        return Footprint.runningInstanceDataDirs(keel.dataDir()).stream()
                .filter(dir -> {
                    try {
                        return Integer.parseInt(java.nio.file.Files.readAllLines(Path.of(dir, "postmaster.pid")).get(3).strip()) == port;
                    } catch (java.io.IOException e) {
                        return false;
                    }
                })
                .findFirst().orElseThrow(() -> new AssertionError("no server listens on " + port));
    }
}
