package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.time.Duration;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A backup another node recorded for a node that fell silent before it began it, while the
 * database's primary is on another node (a failover moved it there): the primary's node takes it
 * over and takes it, rather than leave it, and every backup after it, waiting for a node that may
 * never return. What the silent node recorded for itself stays its own.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class BackupTakeOverTest {
    @Test
    void aBackupLeftToASilentNodeIsTakenByThePrimarysNode(TestKeel keel) throws Exception {
        Api team = keel.newTeam("backup-take-over");
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        UUID id = UUID.fromString(db.get("id").asText());
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        BackupRepository backups = keel.bean(BackupRepository.class);
        String here = keel.bean(ThisNode.class).name();
        UUID teamId = catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(id)).fetchSingle(DATABASES.TEAM_ID);
        awaitInitialBackup(team, id.toString());

        // The node the backup was recorded for: silent for an hour (its row only, as NodesTest makes one).
        String silent = SilentNodes.add(catalog, "silent");
        UUID own = null;
        try {
            Backup left = catalog.transactionResult(tx -> {
                Operation operation = operations.create(tx.dsl(), teamId, id, OperationKind.BACKUP, "starting", 1, silent);
                return backups.insert(tx.dsl(), id, operation.id(), BackupKind.MANUAL);
            });
            // Work the silent node recorded for itself is not taken over: a node runs that as it records it, some in the
            // caller's thread without marking it begun.
            own = catalog.transactionResult(tx -> {
                Operation operation = operations.create(tx.dsl(), teamId, id, OperationKind.RECONFIGURE, "applying the settings", 1,
                        silent);
                tx.dsl().update(OPERATIONS).set(OPERATIONS.RECORDED_BY, silent).where(OPERATIONS.ID.eq(operation.id())).execute();
                return operation.id();
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
            // Two more looks of the inbox (one operation a look), and the silent node's own work is still its.
            Thread.sleep(11_000);
            assertThat(catalog.select(OPERATIONS.NODE).from(OPERATIONS).where(OPERATIONS.ID.eq(own)).fetchSingle(OPERATIONS.NODE))
                    .isEqualTo(silent);
        } finally {
            if (own != null) {
                operations.fail(own, "the test's stand-in for a silent node's own work");
            }
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
            team.deprovision(id.toString());
        }
    }
}
