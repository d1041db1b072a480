package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

@ExtendWith(SharedKeel.class)
class MultiVersionTest {
    @Test
    void databasesOfEverySupportedMajorRunSideBySide(TestKeel keel) throws Exception {
        Api api = keel.api();
        Map<Integer, String> ids = new LinkedHashMap<>();
        for (int major : new int[] {14, 15, 16, 17, 18}) {
            Api.Response created = api.post("/v1/databases", "{\"plan\":\"essential-0\",\"version\":\"" + major + "\"}");
            assertThat(created.status()).as(created.toString()).isEqualTo(202);
            assertThat(created.field("version")).isEqualTo(Integer.toString(major));
            ids.put(major, created.field("id"));
        }
        java.util.Set<Integer> ports = new java.util.HashSet<>();
        for (Map.Entry<Integer, String> entry : ids.entrySet()) {
            JsonNode database = api.awaitAvailable(entry.getValue());
            String url = database.get("url").asText();
            ports.add(Pg.port(url));
            try (Connection connection = Pg.connect(url, keel.caFile())) {
                int serverMajor = Integer.parseInt(Pg.scalar(connection, "show server_version_num")) / 10000;
                assertThat(serverMajor).isEqualTo(entry.getKey());
                assertThat(Pg.scalar(connection, "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()")).isEqualTo("true");
                assertThat(Pg.scalar(connection, "show data_checksums")).isEqualTo("on");
            }
        }
        assertThat(ports).hasSize(ids.size());
        for (String id : ids.values()) {
            api.deprovision(id);
        }
    }
}
