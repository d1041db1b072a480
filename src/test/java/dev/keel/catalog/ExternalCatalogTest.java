package dev.keel.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.DriverManager;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** With KEEL_CATALOG_URL, Keel keeps its state in that database and starts no catalog of its own. */
@ExtendWith(SharedKeel.class)
class ExternalCatalogTest {
    @Test
    void keelRunsOnAnExternalCatalogGivenAsALibpqUrl(TestKeel shared) throws Exception {
        TestKeel.CatalogServerDatabase external = shared.newDatabaseOnCatalogServer("external");
        try (TestKeel keel = TestKeel.start("external-catalog", Map.of("keel.catalog.url", external.url()))) {
            assertThat(keel.serverDir().resolve("catalog")).doesNotExist();
            assertThat(keel.dataDir().resolve("catalog.properties")).doesNotExist();
            JsonNode db = keel.api().provision("{\"plan\":\"essential-0\"}");
            try (Connection connection = Pg.connect(db.get("url").asText(), keel.caFile())) {
                assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
            }
            try (Connection connection = DriverManager.getConnection(external.jdbcUrl(), external.user(), external.password())) {
                assertThat(Pg.scalar(connection, "select state from databases where id = '" + db.get("id").asText() + "'"))
                        .isEqualTo("available");
            }
            keel.api().deprovision(db.get("id").asText());
        }
    }
}
