package dev.keel.lifecycle;

import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationState;
import org.junit.jupiter.api.Test;

import java.time.OffsetDateTime;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** A resumed plan change keeps its restart announcement by the step's code, not by how the sentence begins. */
class PlanChangeStepTest {
    @Test
    void theAnnouncementIsKeptByCode() {
        assertThat(DatabasePlanChange.announced(operation("moving to plan standard-2 with a restart", "announced"))).isTrue();
        assertThat(DatabasePlanChange.announced(operation("a reworded announcement", "applying"))).isTrue();
        assertThat(DatabasePlanChange.announced(operation("applying plan x, but said at another step", "followers"))).isFalse();
    }

    @Test
    void anOperationWithoutACodeIsReadByTheSentenceItsVersionWrote() {
        assertThat(DatabasePlanChange.announced(operation("applying plan standard-2 (no restart)", null))).isTrue();
        assertThat(DatabasePlanChange.announced(operation("applying the plan to followers", null))).isFalse();
    }

    private static Operation operation(String step, String code) {
        OffsetDateTime now = OffsetDateTime.now();
        return new Operation(UUID.randomUUID(), UUID.randomUUID(), UUID.randomUUID(), OperationKind.PLAN_CHANGE, OperationState.RUNNING,
                step, code, 1, 3, "steps", 1, null, null, null, now, now, null, "node-a", "node-a", now);
    }
}
