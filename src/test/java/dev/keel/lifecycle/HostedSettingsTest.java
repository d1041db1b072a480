package dev.keel.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.auth.Caller;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.HostedWork;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A settings change of a server that another node hosts is that node's to apply: refused with a
 * 503, before anything is stored, while that node is silent or runs another version of Keel; and
 * when that node takes no action, a 503 after {@code HostedWork}'s patience that names the
 * operation it left, with the change stored. The other node is a row in the shared catalog
 * (drained, so that nothing is ever placed on it), and the database's server is moved to it by
 * its row alone, then back.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class HostedSettingsTest {

    @Test
    void aChangeForAServerOnAnotherNodeWaitsForThatNodeAndStoresNothingWhileItCannotTakeIt(TestKeel keel) throws Exception {
        DSLContext catalog = keel.bean(DSLContext.class);
        DatabaseSettings settings = keel.bean(DatabaseSettings.class);
        ThisNode self = keel.bean(ThisNode.class);
        Api team = keel.newTeam("hosted-settings");
        JsonNode db = team.provision("{\"plan\":\"standard-0\"}");
        UUID id = UUID.fromString(db.get("id").asText());
        Caller caller = new Caller(catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(id)).fetchOne(DATABASES.TEAM_ID),
                UUID.randomUUID(), false);
        Object before = settings.show(caller, id.toString()).get("log_statement").value();
        String ghost = "ghost-" + System.nanoTime();
        catalog.insertInto(NODES).set(NODES.NAME, ghost).set(NODES.VERSION, self.version())
                .set(NODES.STARTED_AT, OffsetDateTime.now().minusHours(2)).set(NODES.HEARTBEAT_AT, OffsetDateTime.now().minusHours(1))
                .set(NODES.DRAINED, true).set(NODES.DRAINED_AT, OffsetDateTime.now().minusHours(2))
                .set(NODES.PORT_FIRST, 25000).set(NODES.PORT_LAST, 25999).set(NODES.MEMORY_BUDGET_MB, 4096L).set(NODES.DISK_BUDGET_MB, 10240L)
                .execute();
        catalog.update(INSTANCES).set(INSTANCES.NODE, ghost).where(INSTANCES.DATABASE_ID.eq(id)).execute();
        try {
            Map<String, Object> change = Map.of("log_statement", "ddl");
            KeelException silent = catchThrowableOfType(KeelException.class, () -> settings.change(caller, id.toString(), change));
            assertThat(silent.type()).isEqualTo(ProblemType.UNAVAILABLE);
            assertThat(silent.getMessage()).startsWith("Applying settings is done by node " + ghost + ", which hosts the database's"
                    + " server, and node " + ghost + " has not heartbeat since ").endsWith("; nothing was changed. Try again once it is"
                    + " back, or ask node " + ghost + " itself.");
            assertNothingStored(catalog, settings, caller, id, before);

            catalog.update(NODES).set(NODES.HEARTBEAT_AT, OffsetDateTime.now()).set(NODES.VERSION, "0.0.1-older")
                    .where(NODES.NAME.eq(ghost)).execute();
            KeelException older = catchThrowableOfType(KeelException.class, () -> settings.change(caller, id.toString(), change));
            assertThat(older.type()).isEqualTo(ProblemType.UNAVAILABLE);
            assertThat(older.getMessage()).contains("and node " + ghost + " runs Keel 0.0.1-older and this node " + self.version()
                    + "; nothing was changed.");
            assertNothingStored(catalog, settings, caller, id, before);

            // Able to take it, but it never does (no process behind the row): the request gives up after the patience, saying
            // that the change is stored and which operation applies it once the node can.
            catalog.update(NODES).set(NODES.HEARTBEAT_AT, OffsetDateTime.now()).set(NODES.VERSION, self.version())
                    .where(NODES.NAME.eq(ghost)).execute();
            KeelException waited = catchThrowableOfType(KeelException.class, () -> settings.change(caller, id.toString(), change));
            assertThat(waited.type()).isEqualTo(ProblemType.UNAVAILABLE);
            String operation = catalog.select(OPERATIONS.ID).from(OPERATIONS).where(OPERATIONS.DATABASE_ID.eq(id))
                    .and(OPERATIONS.KIND.eq("reconfigure")).fetchOne(OPERATIONS.ID).toString();
            assertThat(waited.getMessage()).isEqualTo("The settings change is stored, and node " + ghost + ", which hosts the database's"
                    + " server, has not applied it within " + HostedWork.PATIENCE_SECONDS + " s; it does once it can, and"
                    + " GET /v1/operations/" + operation + " follows it.");
            assertThat(waited.extensions()).containsEntry("operation_id", operation);
            assertThat(catalog.select(OPERATIONS.NODE, OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(UUID.fromString(operation)))
                    .fetchOne().intoArray()).containsExactly(ghost, "running");
            assertThat(settings.show(caller, id.toString()).get("log_statement").value()).isEqualTo("ddl");
            // The database's view shows the change still to be applied.
            JsonNode progress = team.get("/v1/databases/" + id).json().get("progress");
            assertThat(progress.get("operation_id").asText()).isEqualTo(operation);
            assertThat(progress.get("step").asText()).isEqualTo(DatabaseSettings.APPLYING);
        } finally {
            catalog.update(OPERATIONS).set(OPERATIONS.STATE, "failed").set(OPERATIONS.FINISHED_AT, OffsetDateTime.now())
                    .where(OPERATIONS.NODE.eq(ghost)).execute();
            catalog.update(INSTANCES).set(INSTANCES.NODE, self.name()).where(INSTANCES.DATABASE_ID.eq(id)).execute();
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(ghost)).execute();
        }
        team.deprovision(id.toString());
    }

    private static void assertNothingStored(DSLContext catalog, DatabaseSettings settings, Caller caller, UUID id, Object before) {
        assertThat(settings.show(caller, id.toString()).get("log_statement").value()).isEqualTo(before);
        assertThat(catalog.fetchCount(OPERATIONS, OPERATIONS.DATABASE_ID.eq(id).and(OPERATIONS.KIND.eq("reconfigure")))).isZero();
    }
}
