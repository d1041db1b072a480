package dev.keel.nodes;

import dev.keel.StartupException;
import dev.keel.catalog.CatalogLocation;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A node's state follows from its row (drained, forgotten, heartbeat age), and a node's settings are checked at start. */
class NodeStateTest {
    private static final Duration LOST_AFTER = Duration.ofSeconds(15);
    private static final CatalogLocation CATALOG = new CatalogLocation("jdbc:postgresql://127.0.0.1:1/keel", "keel", "", "embedded", true);

    @Test
    void drainedIsDrainingOtherwiseLostOnlyPastLostAfter() {
        ThisNode node = node("state", Duration.ofSeconds(2), LOST_AFTER);
        assertThat(node.isLost(Duration.ofSeconds(1))).isFalse();
        assertThat(node.isLost(LOST_AFTER)).isFalse();
        assertThat(node.isLost(LOST_AFTER.plusMillis(1))).isTrue();
        assertThat(NodeState.of(false, false, false)).isEqualTo(NodeState.ACTIVE);
        assertThat(NodeState.of(false, false, true)).isEqualTo(NodeState.LOST);
        assertThat(NodeState.of(true, false, false)).isEqualTo(NodeState.DRAINING);
        assertThat(NodeState.of(true, false, true)).isEqualTo(NodeState.DRAINING);
        assertThat(NodeState.LOST.value()).isEqualTo("lost");
        // Forgotten until it heartbeats again, whether drained or not.
        assertThat(NodeState.of(false, true, true)).isEqualTo(NodeState.FORGOTTEN);
        assertThat(NodeState.of(true, true, true)).isEqualTo(NodeState.FORGOTTEN);
        assertThat(NodeState.FORGOTTEN.value()).isEqualTo("forgotten");
    }

    @Test
    void aVersionNamesTheCommitItWasBuiltFromWhenTheBuildKnewIt() {
        assertThat(ThisNode.version("0.1.0-SNAPSHOT", "1a2b3c4")).isEqualTo("0.1.0-SNAPSHOT+1a2b3c4");
        // Built without Git history: the property is left as the file wrote it.
        assertThat(ThisNode.version("0.1.0-SNAPSHOT", "${git.commit.id.abbrev}")).isEqualTo("0.1.0-SNAPSHOT");
        assertThat(ThisNode.version("0.1.0", "")).isEqualTo("0.1.0");
    }

    @Test
    void aNodeNameIsLettersDigitsDotsUnderscoresAndDashes() {
        assertThat(node("db-host_1.example", Duration.ofSeconds(2), LOST_AFTER).name()).isEqualTo("db-host_1.example");
        assertThatThrownBy(() -> node("no spaces", Duration.ofSeconds(2), LOST_AFTER)).isInstanceOf(StartupException.class)
                .hasMessage("KEEL_NODE_NAME 'no spaces' is not a node name: use letters, digits, '.', '_' and '-' (at most 255, starting"
                        + " with a letter or digit).");
        assertThatThrownBy(() -> node("-dash-first", Duration.ofSeconds(2), LOST_AFTER)).isInstanceOf(StartupException.class);
        assertThat(node("", Duration.ofSeconds(2), LOST_AFTER).name()).as("the host name by default").isNotBlank();
    }

    @Test
    void lostAfterMustCoverTwoHeartbeats() {
        assertThatThrownBy(() -> node("n", Duration.ofSeconds(10), LOST_AFTER)).isInstanceOf(StartupException.class)
                .hasMessage("KEEL_NODE_LOST_AFTER (15000 ms) must be at least twice KEEL_NODE_HEARTBEAT_INTERVAL (10000 ms, above 0), or a live"
                        + " node would be shown lost between two heartbeats.");
        assertThatThrownBy(() -> node("n", Duration.ZERO, LOST_AFTER)).isInstanceOf(StartupException.class);
    }

    /** With both budgets given, the node reads no disk, so it needs no data directory. */
    private static ThisNode node(String name, Duration heartbeat, Duration lostAfter) {
        return new ThisNode(name, heartbeat, lostAfter, 4096, 10240, "25000-25999", CATALOG, null);
    }
}
