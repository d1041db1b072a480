package dev.keel.operations;

import dev.keel.nodes.ThisNode;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.util.Set;
import java.util.UUID;

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
            assertThat(operations.neverBegunOn(Set.of(silent))).as("a backup needs its node's server").extracting(Operation::id)
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
}
