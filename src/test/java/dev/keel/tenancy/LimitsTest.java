package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What no team may take from the others, each refused at the request with a clear problem and
 * nothing half made: a team's quota of databases and of dataclips, the last ports and the last of the disk; a
 * second plan change queued behind a first; and temporary files beyond the plan's share.
 */
class LimitsTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        TestKeel.Ports ports = TestKeel.nextPorts();
        int first = Integer.parseInt(ports.instances().split("-")[0]);
        keel = TestKeel.start("limits", Map.of("keel.instances.pool.size", 0, "keel.quotas.databases", 2, "keel.quotas.dataclips", 2,
                "keel.instances.ports", first + "-" + (first + 2)));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void aTeamsQuotaTheLastPortAndAFullDiskAreRefusedUpFrontWithNothingMade() {
        Api team = keel.newTeam("quota-" + System.nanoTime());
        String first = team.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        String second = team.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        Api.Response third = team.post("/v1/databases", "{\"plan\":\"essential-0\"}");
        assertProblem(third, 403, "/problems/quota-exceeded", "The team has 2 databases, its quota; delete one first, or ask the"
                + " operator to raise KEEL_QUOTAS_DATABASES.");
        assertThat(third.json().get("quota").asInt()).isEqualTo(2);
        assertThat(team.get("/v1/databases").json()).hasSize(2);
        String clip = "{\"title\":\"t\",\"database\":\"" + first + "\",\"sql\":\"select 1\"}";
        for (int i = 0; i < 2; i++) {
            Api.Response made = team.post("/v1/dataclips", clip);
            assertThat(made.status()).as(made.toString()).isIn(201, 202);
        }
        Api.Response thirdClip = team.post("/v1/dataclips", clip);
        assertProblem(thirdClip, 403, "/problems/quota-exceeded", "The team has 2 dataclips, its quota; delete one first, or ask the"
                + " operator to raise KEEL_QUOTAS_DATACLIPS.");
        assertThat(team.get("/v1/dataclips").json()).hasSize(2);

        Api other = keel.newTeam("ports-" + System.nanoTime());
        String last = other.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        Api.Response noPort = other.post("/v1/databases", "{\"plan\":\"essential-0\"}");
        assertThat(noPort.status()).as(noPort.toString()).isEqualTo(503);
        assertThat(noPort.field("type")).isEqualTo("/problems/no-capacity");
        assertThat(noPort.field("detail")).startsWith("No free port is left in the instance port range ").endsWith(
                "; widen KEEL_INSTANCES_PORTS or delete unused databases, then try again. Nothing was created.");
        assertThat(other.get("/v1/databases").json()).hasSize(1);

        team.deprovision(second);
        keel.stopControlPlane();
        keel.startControlPlane(Map.of("keel.disk.min-free", "1000000GB"));
        Api.Response full = keel.api().withKey(team.key()).post("/v1/databases", "{\"plan\":\"essential-0\"}");
        assertThat(full.status()).as(full.toString()).isEqualTo(507);
        assertThat(full.field("type")).isEqualTo("/problems/insufficient-storage");
        assertThat(full.field("detail")).contains("less than KEEL_DISK_MIN_FREE").endsWith("Nothing was created.");
        assertThat(keel.api().withKey(team.key()).get("/v1/databases").json()).hasSize(1);
        keel.stopControlPlane();
        keel.startControlPlane();
        keel.api().withKey(team.key()).deprovision(first);
        keel.api().withKey(other.key()).deprovision(last);
    }

    @Test
    void aSecondPlanChangeIsRefusedNamingTheFirstAndTempFilesAreCappedByPlan() throws Exception {
        Api team = keel.newTeam("plans-" + System.nanoTime());
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        String id = db.get("id").asText();
        try (Connection connection = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
            assertThat(Pg.scalar(connection, "show temp_file_limit")).isEqualTo("256MB");
            assertThatThrownBy(() -> sql.execute("set temp_file_limit = '100GB'"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
            sql.execute("set work_mem = '64kB'");
            // A sort that would spill far more than a quarter of the plan's storage is stopped by the server.
            assertThatThrownBy(() -> Pg.scalar(connection, "select count(*) from (select g from generate_series(1, 40000000) g"
                    + " order by g desc) sorted"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("53400"));
        }
        // A backup first: the plan change queues behind it (one operation at a time per database), and is still pending when asked again.
        assertThat(team.post("/v1/databases/" + id + "/backups", "").status()).isIn(202, 409); // 409: the first backup still runs
        Api.Response changing = team.patch("/v1/databases/" + id, "{\"plan\":\"standard-0\"}");
        assertThat(changing.status()).as(changing.toString()).isEqualTo(202);
        String operation = changing.json().get("progress").get("operation_id").asText();
        Api.Response again = team.patch("/v1/databases/" + id, "{\"plan\":\"essential-0\"}");
        assertProblem(again, 409, "/problems/already-queued", "A plan change of " + db.get("name").asText() + " is already queued or"
                + " running (operation " + operation + "); follow it with GET /v1/operations/{id} and ask again once it has finished.");
        assertThat(again.field("operation_id")).isEqualTo(operation);
        assertThat(team.get("/v1/databases/" + id).field("plan")).isEqualTo("standard-0");
        team.deprovision(id);
    }

    private static void assertProblem(Api.Response response, int status, String type, String detail) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).startsWith("application/problem+json");
        assertThat(response.field("type")).isEqualTo(type);
        assertThat(response.field("detail")).isEqualTo(detail);
    }
}
