package dev.keel.operations;

import dev.keel.nodes.ThisNode;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The claim that keeps a provision from being made twice when the node it was addressed to falls
 * silent and another takes it over: a node begins only what is addressed to it, takes over only
 * what nobody began, and once one of the two has happened the other cannot.
 */
@ExtendWith(SharedKeel.class)
class OperationTakeOverTest {
    @Test
    void anOperationIsEitherBegunByItsNodeOrTakenOverNeverBoth(TestKeel keel) {
        keel.newTeam("take-over");
        OperationRepository operations = keel.bean(OperationRepository.class);
        DSLContext catalog = keel.bean(DSLContext.class);
        String here = keel.bean(ThisNode.class).name();
        UUID team = catalog.select(TEAMS.ID).from(TEAMS).limit(1).fetchSingle(TEAMS.ID);

        Operation stranded = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(),
                OperationKind.PROVISION, "provisioning", 1, "silent-node"));
        Operation begun = catalog.transactionResult(tx -> operations.create(tx.dsl(), team, UUID.randomUUID(),
                OperationKind.PROVISION, "provisioning", 1, "silent-node"));
        try {
            // Not addressed here: this node does not begin it.
            assertThat(operations.begin(stranded.id())).isFalse();
            assertThat(operations.neverBegunOn(Set.of("silent-node"), Set.of(OperationKind.PROVISION)))
                    .extracting(Operation::id).contains(stranded.id(), begun.id());
            assertThat(operations.neverBegunOn(Set.of("silent-node"), Set.of(OperationKind.BACKUP))).isEmpty();

            // Taken over once; a second take-over (another node's, or a late one) finds it addressed elsewhere.
            assertThat(operations.takeOver(stranded.id(), "silent-node")).get().extracting(Operation::node).isEqualTo(here);
            assertThat(operations.takeOver(stranded.id(), "silent-node")).isEmpty();
            assertThat(operations.begin(stranded.id())).isTrue();
            assertThat(operations.begin(stranded.id())).as("begun again after a restart").isTrue();

            // Begun by its node (as "silent-node" would have, just before falling silent): never taken over.
            catalog.update(OPERATIONS).set(OPERATIONS.STARTED_AT, DSL.currentOffsetDateTime()).where(OPERATIONS.ID.eq(begun.id())).execute();
            assertThat(operations.takeOver(begun.id(), "silent-node")).isEmpty();
            List<Operation> left = operations.neverBegunOn(Set.of("silent-node"), Set.of(OperationKind.PROVISION));
            assertThat(left).extracting(Operation::id).doesNotContain(stranded.id(), begun.id());
        } finally {
            operations.fail(stranded.id(), "a test's operation");
            operations.fail(begun.id(), "a test's operation");
        }
    }
}
