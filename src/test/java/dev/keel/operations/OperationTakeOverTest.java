package dev.keel.operations;

import dev.keel.catalog.CatalogSchema;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The claim that keeps a provision from being made twice when the node it was addressed to falls
 * silent and another takes it over: a node begins only what is addressed to it, takes over only
 * what nobody began, and once one of the two has happened the other cannot.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class OperationTakeOverTest {
    @Test
    void anOperationIsEitherBegunByItsNodeOrTakenOverNeverBoth(TestKeel keel) {
        keel.newTeam("take-over");
        OperationRepository operations = keel.bean(OperationRepository.class);
        DSLContext catalog = keel.bean(DSLContext.class);
        String here = keel.bean(ThisNode.class).name();
        UUID team = catalog.select(TEAMS.ID).from(TEAMS).limit(1).fetchSingle(TEAMS.ID);

        // A node that fell silent an hour ago (its row only), as NodesTest makes one.
        String silent = SilentNodes.add(catalog, "silent");
        // Backups, which no node takes over on its own (this Keel's inbox would race the test for a provision); the claim
        // is the same whatever the kind. TwoNodesTest has a provision taken over end to end.
        Operation stranded = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(),
                OperationKind.BACKUP, "starting", 1, silent));
        Operation begun = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(),
                OperationKind.BACKUP, "starting", 1, silent));
        Operation own = catalog.transactionResult(tx -> operations.createHere(tx.dsl(), team, UUID.randomUUID(),
                OperationKind.BACKUP, "starting", 1));
        try {
            // Not addressed here: this node does not begin it.
            assertThat(operations.begin(stranded.id())).isFalse();
            assertThat(operations.neverBegunOn(Set.of(silent))).as("a backup needs its node's server").extracting(s -> s.operation().id())
                    .doesNotContain(stranded.id(), begun.id());
            // Only a silent node's work is taken over: this node's own, never.
            assertThat(operations.takeOver(own.id(), here)).isEmpty();

            // Taken over once; a second take-over (another node's, or a late one) finds it addressed elsewhere.
            assertThat(operations.takeOver(stranded.id(), silent)).get().extracting(Operation::node).isEqualTo(here);
            assertThat(operations.takeOver(stranded.id(), silent)).isEmpty();
            assertThat(operations.begin(stranded.id())).isTrue();
            assertThat(operations.begin(stranded.id())).as("begun again after a restart").isTrue();

            // Begun by its node (as silent would have, just before falling silent): never taken over.
            catalog.update(OPERATIONS).set(OPERATIONS.STARTED_AT, DSL.currentOffsetDateTime()).where(OPERATIONS.ID.eq(begun.id())).execute();
            assertThat(operations.takeOver(begun.id(), silent)).isEmpty();
        } finally {
            catalog.deleteFrom(OPERATIONS).where(OPERATIONS.ID.in(stranded.id(), begun.id(), own.id())).execute();
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
        }
    }

    /**
     * During a rolling upgrade, a silent node's stranded work is taken over only by a node that
     * knows every catalog migration its writer knew, and the taker is chosen among such nodes: a
     * newer node's row may carry what an older one cannot read, while a newer node reads an older
     * one's. (Provisions of databases that do not exist: listed, never taken by this Keel's own
     * inbox, which finds nothing to make.)
     */
    @Test
    void workIsTakenOverOnlyByNodesThatKnowWhatItsWriterKnew(TestKeel keel) {
        keel.newTeam("take-over-migrations");
        OperationRepository operations = keel.bean(OperationRepository.class);
        Placement placement = keel.bean(Placement.class);
        DSLContext catalog = keel.bean(DSLContext.class);
        int known = keel.bean(CatalogSchema.class).known();
        String here = keel.bean(ThisNode.class).name();
        UUID team = catalog.select(TEAMS.ID).from(TEAMS).limit(1).fetchSingle(TEAMS.ID);
        String silent = SilentNodes.add(catalog, "silent");
        Operation ours = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(), OperationKind.PROVISION,
                "starting", 1, silent));
        Operation older = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(), OperationKind.PROVISION,
                "starting", 1, silent));
        Operation newer = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(), OperationKind.PROVISION,
                "starting", 1, silent));
        try {
            // Recorded by a build before writers were recorded, and by a newer one.
            catalog.update(OPERATIONS).setNull(OPERATIONS.WRITER_MIGRATION).where(OPERATIONS.ID.eq(older.id())).execute();
            catalog.update(OPERATIONS).set(OPERATIONS.WRITER_MIGRATION, known + 1).where(OPERATIONS.ID.eq(newer.id())).execute();
            Map<UUID, Integer> listed = operations.neverBegunOn(Set.of(silent)).stream()
                    .collect(Collectors.toMap(s -> s.operation().id(), OperationRepository.Stranded::writerMigration));
            assertThat(listed).containsEntry(ours.id(), known).containsEntry(older.id(), 86).doesNotContainKey(newer.id());
            // This node (the only active one) knows what it wrote, and not what a newer build did.
            assertThat(placement.leastBusy(known)).contains(here);
            assertThat(placement.leastBusy(known + 1)).isEmpty();
        } finally {
            catalog.deleteFrom(OPERATIONS).where(OPERATIONS.ID.in(ours.id(), older.id(), newer.id())).execute();
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
        }
    }
}
