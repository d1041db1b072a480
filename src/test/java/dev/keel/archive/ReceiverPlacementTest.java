package dev.keel.archive;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Where a database's WAL receiver runs: another node than its primary's when there is one, spread, and moved as little as can be. */
class ReceiverPlacementTest {
    private static final List<UUID> DATABASES = IntStream.range(0, 600).mapToObj(i -> UUID.nameUUIDFromBytes(("db" + i).getBytes()))
            .toList();

    @Test
    void aLoneNodeReceivesItsOwnPrimariesWal() {
        assertThat(WalReceivers.receiverNode(DATABASES.get(0), "a", Set.of("a"))).isEqualTo("a");
        // Its own node not active (drained, or seen late): still the primary's node, there being no other.
        assertThat(WalReceivers.receiverNode(DATABASES.get(0), "a", Set.of())).isEqualTo("a");
    }

    @Test
    void withAnotherNodeTheReceiverIsNeverOnThePrimarysNode() {
        for (UUID database : DATABASES) {
            assertThat(WalReceivers.receiverNode(database, "a", Set.of("a", "b"))).isEqualTo("b");
            assertThat(WalReceivers.receiverNode(database, "a", Set.of("a", "b", "c"))).isIn("b", "c");
            // The primary's node lost: the others go on receiving from its primary.
            assertThat(WalReceivers.receiverNode(database, "a", Set.of("b", "c"))).isIn("b", "c");
        }
    }

    @Test
    void receiversSpreadOverTheOtherNodesAndANodeLeavingMovesOnlyItsOwn() {
        Set<String> four = Set.of("a", "b", "c", "d");
        Map<String, Integer> counts = new HashMap<>();
        int moved = 0;
        for (UUID database : DATABASES) {
            String before = WalReceivers.receiverNode(database, "a", four);
            counts.merge(before, 1, Integer::sum);
            String after = WalReceivers.receiverNode(database, "a", Set.of("a", "b", "c"));
            if (!before.equals(after)) {
                assertThat(before).as("only the receivers of the node that left move").isEqualTo("d");
                moved++;
            }
            // The same answer on every node, every time.
            assertThat(WalReceivers.receiverNode(database, "a", four)).isEqualTo(before);
        }
        assertThat(counts.keySet()).containsExactlyInAnyOrder("b", "c", "d");
        counts.values().forEach(n -> assertThat(n).as("receivers per node of %s", counts).isBetween(150, 250));
        assertThat(moved).isEqualTo(counts.get("d"));
    }
}
