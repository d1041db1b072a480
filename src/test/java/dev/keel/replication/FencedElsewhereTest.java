package dev.keel.replication;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.InstanceState;
import dev.keel.postgres.Postmaster;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.INSTANCES;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A node back from a partition whose Keel ran on finds in the catalog that another node failed
 * one of its primaries over meanwhile (the row says {@code fenced}): its HA monitor kills that
 * server at its next round, whatever the database's plan, and keeps its data for an operator.
 * Here the catalog row is changed as that other node's failover would have changed it.
 */
@ExtendWith(SharedKeel.class)
class FencedElsewhereTest {
    @Test
    void aServerTheCatalogSaysAnotherNodeFencedIsKilledAtTheMonitorsNextRound(TestKeel keel) {
        Api team = keel.newTeam("fenced-elsewhere");
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        UUID id = UUID.fromString(db.get("id").asText());
        DSLContext catalog = keel.bean(DSLContext.class);
        UUID server = catalog.select(INSTANCES.ID).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(id)).fetchSingle(INSTANCES.ID);
        Path data = keel.instanceDataDir(server);
        assertThat(Postmaster.isRunning(data)).isTrue();
        try {
            catalog.update(INSTANCES).set(INSTANCES.STATE, InstanceState.FENCED.value()).where(INSTANCES.ID.eq(server)).execute();
            // A round a second (KEEL_HA_CHECK_INTERVAL); the kill itself waits for the server to go.
            Wait.until("the fenced server to be killed", Duration.ofSeconds(15), () -> !Postmaster.isRunning(data));
            assertThat(data.resolve("PG_VERSION")).exists();
        } finally {
            team.deprovision(id.toString());
        }
    }
}
