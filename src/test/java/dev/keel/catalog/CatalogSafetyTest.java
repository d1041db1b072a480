package dev.keel.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import io.micronaut.context.ApplicationContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Keel refuses to start rather than pair a data directory with a catalog that does not know its
 * databases, or initialise a catalog over an existing one, or run as a second node; and each
 * refusal changes nothing: the database still serves afterwards.
 */
class CatalogSafetyTest {
    private static TestKeel keel;
    private static JsonNode database;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("catalog-safety", Map.of("keel.instances.pool.size", 0, "keel.catalog.node-lock-wait", "1s"));
        database = keel.api().provision("{\"plan\":\"essential-0\"}");
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    private static void assertDatabaseStillServes() throws Exception {
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile());
             var statement = connection.createStatement()) {
            statement.execute("create table if not exists survived (n int)");
        }
    }

    @Test
    void aLostCatalogPropertiesFileStopsKeelInsteadOfMakingANewCatalog() throws Exception {
        keel.stopControlPlane();
        Path properties = keel.dataDir().resolve("catalog.properties");
        Path aside = keel.dataDir().resolve("catalog.properties.aside");
        Files.move(properties, aside);
        try {
            assertThat(Keel.startupCause(catchThrowable(keel::startControlPlane)))
                    .hasMessageContaining("the embedded catalog under " + keel.serverDir().resolve("catalog/data") + " exists but")
                    .hasMessageContaining("Keel will not initialise a new catalog over an existing one.");
        } finally {
            Files.move(aside, properties);
            keel.startControlPlane();
        }
        assertThat(keel.api().get("/v1/databases/" + database.get("id").asText()).field("state")).isEqualTo("available");
        assertDatabaseStillServes();
    }

    @Test
    void aCatalogThatIsNotThisDataDirectorysStopsKeelBeforeItTouchesAnInstance() throws Exception {
        TestKeel.CatalogServerDatabase otherCatalog = keel.newDatabaseOnCatalogServer("other");
        keel.stopControlPlane();
        try {
            assertThat(Keel.startupCause(catchThrowable(() -> keel.startControlPlane(Map.of("keel.catalog.url", otherCatalog.url())))))
                    .hasMessageStartingWith("this data directory belongs to installation ")
                    .hasMessageEndingWith("; point KEEL_CATALOG_URL (or KEEL_DATA_DIR) at the pair that belongs together. Nothing was changed.");
        } finally {
            keel.startControlPlane();
        }
        assertThat(Files.list(keel.serverDir().resolve("instances")).count()).isEqualTo(1);
        assertDatabaseStillServes();
    }

    @Test
    void aSecondNodeOnTheSameCatalogIsRefused() throws Exception {
        Map<String, Object> second = new HashMap<>();
        second.put("keel.data-dir", keel.dataDir().toString());
        second.put("micronaut.server.port", -1);
        second.put("keel.postgres.install-dir", TestKeel.sharedInstallDir().toString());
        second.put("keel.catalog.node-lock-wait", "1s");
        ApplicationContext other = ApplicationContext.builder().properties(second).deduceEnvironment(false).build();
        try {
            assertThat(Keel.startupCause(catchThrowable(other::start)))
                    .hasMessageStartingWith("another Keel node is running on this catalog (")
                    .hasMessageEndingWith("); Keel does not yet share a catalog between nodes, so stop the other one first.");
        } finally {
            other.close();
        }
        assertThat(keel.api().get("/v1/databases/" + database.get("id").asText()).field("state")).isEqualTo("available");
        assertDatabaseStillServes();
    }
}
