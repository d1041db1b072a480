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
        assertThat(NodeState.of(false, false, Duration.ofSeconds(1), LOST_AFTER)).isEqualTo(NodeState.ACTIVE);
        assertThat(NodeState.of(false, false, LOST_AFTER, LOST_AFTER)).isEqualTo(NodeState.ACTIVE);
        assertThat(NodeState.of(false, false, LOST_AFTER.plusMillis(1), LOST_AFTER)).isEqualTo(NodeState.LOST);
        assertThat(NodeState.of(true, false, Duration.ofSeconds(1), LOST_AFTER)).isEqualTo(NodeState.DRAINING);
        assertThat(NodeState.of(true, false, Duration.ofHours(1), LOST_AFTER)).isEqualTo(NodeState.DRAINING);
        assertThat(NodeState.LOST.value()).isEqualTo("lost");
        // Forgotten until it heartbeats again, whether drained or not.
        assertThat(NodeState.of(false, true, Duration.ofHours(1), LOST_AFTER)).isEqualTo(NodeState.FORGOTTEN);
        assertThat(NodeState.of(true, true, Duration.ofHours(1), LOST_AFTER)).isEqualTo(NodeState.FORGOTTEN);
        assertThat(NodeState.FORGOTTEN.value()).isEqualTo("forgotten");
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
