package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A backup recorded for a node that fell silent before it began it, while the database's primary
 * is on another node (a failover moved it there): the primary's node takes it over and takes it,
 * rather than leave it, and every backup after it, waiting for a node that may never return.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class BackupTakeOverTest {
    @Test
    void aBackupLeftToASilentNodeIsTakenByThePrimarysNode(TestKeel keel) {
        Api team = keel.newTeam("backup-take-over");
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        UUID id = UUID.fromString(db.get("id").asText());
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        BackupRepository backups = keel.bean(BackupRepository.class);
        String here = keel.bean(ThisNode.class).name();
        UUID teamId = catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(id)).fetchSingle(DATABASES.TEAM_ID);
        Wait.until("the new database's first backup to end", Duration.ofSeconds(120), () -> catalog.fetchCount(OPERATIONS,
                OPERATIONS.DATABASE_ID.eq(id).and(OPERATIONS.KIND.eq(OperationKind.BACKUP.value())).and(OPERATIONS.STATE.eq("running"))) == 0);

        // The node the backup was recorded for: silent for an hour (its row only, as NodesTest makes one).
        String silent = "silent-" + System.nanoTime();
        catalog.insertInto(NODES).set(NODES.NAME, silent).set(NODES.VERSION, "0.0.9")
                .set(NODES.STARTED_AT, OffsetDateTime.now().minusHours(2)).set(NODES.HEARTBEAT_AT, OffsetDateTime.now().minusHours(1))
                .set(NODES.PORT_FIRST, 26000).set(NODES.PORT_LAST, 26999).set(NODES.MEMORY_BUDGET_MB, 4096L).set(NODES.DISK_BUDGET_MB, 10240L)
                .execute();
        try {
            Backup left = catalog.transactionResult(tx -> {
                Operation operation = operations.create(tx.dsl(), teamId, id, OperationKind.BACKUP, "starting", 1, silent);
                return backups.insert(tx.dsl(), id, operation.id(), BackupKind.MANUAL);
            });
            // Taken over (within the inbox's interval) and run here, where the primary is.
            Wait.until("the backup left to " + silent + " to end", Duration.ofSeconds(120), () -> !"running".equals(
                    team.get("/v1/operations/" + left.operationId()).field("state")));
            JsonNode operation = team.get("/v1/operations/" + left.operationId()).json();
            assertThat(operation.get("state").asText()).as(operation.toString()).isEqualTo("succeeded");
            assertThat(catalog.select(OPERATIONS.NODE).from(OPERATIONS).where(OPERATIONS.ID.eq(left.operationId()))
                    .fetchSingle(OPERATIONS.NODE)).isEqualTo(here);
            assertThat(catalog.select(BACKUPS.STATE).from(BACKUPS).where(BACKUPS.ID.eq(left.id())).fetchSingle(BACKUPS.STATE))
                    .isEqualTo(BackupState.COMPLETED.value());
        } finally {
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
            team.deprovision(id.toString());
        }
    }
}
