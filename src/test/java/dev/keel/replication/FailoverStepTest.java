package dev.keel.replication;

import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationState;
import org.junit.jupiter.api.Test;

import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A failover resumes on the code of the step it reached, whatever the sentence says; one left
 * running by a version before step codes is read by the sentence that version wrote.
 */
class FailoverStepTest {
    @Test
    void theCodeDecidesWhateverTheSentenceSays() {
        assertThat(Failover.Step.reached(operation("a sentence reworded since", "promoting"))).contains(Failover.Step.PROMOTING);
        assertThat(Failover.Step.reached(operation("draining the primary", "fencing"))).contains(Failover.Step.FENCING);
        assertThat(Failover.Step.reached(operation("failing over because the primary missed 3 checks", "decided")))
                .contains(Failover.Step.DECIDED);
    }

    @Test
    void anOperationWithoutACodeIsReadByTheSentenceItsVersionWrote() {
        assertThat(Failover.Step.reached(operation("fencing the old primary", null))).contains(Failover.Step.FENCING);
        assertThat(Failover.Step.reached(operation("taking a base backup", null))).contains(Failover.Step.BACKING_UP);
        assertThat(Failover.Step.reached(operation("failing over because the primary missed 3 checks", null))).isEmpty();
    }

    @Test
    void onlyStepsFromFencingOnAreFinishedRatherThanUndone() {
        assertThat(Failover.Step.DRAINING.pastFencing()).isFalse();
        assertThat(Failover.Step.DECIDED.pastFencing()).isFalse();
        assertThat(Failover.Step.FENCING.pastFencing()).isTrue();
        assertThat(Failover.Step.BACKING_UP.pastFencing()).isTrue();
    }

    @Test
    void everyCodeIsDistinct() {
        assertThat(Arrays.stream(Failover.Step.values()).map(Failover.Step::code).distinct())
                .hasSize(Failover.Step.values().length);
    }

    static Operation operation(String step, String code) {
        OffsetDateTime now = OffsetDateTime.now();
        return new Operation(UUID.randomUUID(), UUID.randomUUID(), UUID.randomUUID(), OperationKind.FAILOVER, OperationState.RUNNING,
                step, code, 1, 6, "steps", 1, null, null, null, now, now, null, "node-a", "node-a", now);
    }
}
