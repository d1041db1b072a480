package dev.keel.databases;

import dev.keel.instances.InstanceState;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StateMachinesTest {
    @Test
    void aDatabaseIsDeletedFromAnyStateButDeletingAndNeverComesBack() {
        for (DatabaseState state : DatabaseState.values()) {
            assertThat(state.canBecome(DatabaseState.DELETING)).isEqualTo(state != DatabaseState.DELETING);
            assertThat(DatabaseState.DELETING.canBecome(state)).isFalse();
        }
    }

    @Test
    void onlyACreatingDatabaseBecomesAvailableOrFailed() {
        assertThat(DatabaseState.CREATING.canBecome(DatabaseState.AVAILABLE)).isTrue();
        assertThat(DatabaseState.CREATING.canBecome(DatabaseState.FAILED)).isTrue();
        assertThat(DatabaseState.FAILED.canBecome(DatabaseState.AVAILABLE)).isFalse();
        assertThat(DatabaseState.AVAILABLE.canBecome(DatabaseState.FAILED)).isFalse();
        assertThat(DatabaseState.AVAILABLE.canBecome(DatabaseState.CREATING)).isFalse();
    }

    @Test
    void instancesStopAndStartButADeletingOneStaysDeleting() {
        assertThat(InstanceState.RUNNING.canBecome(InstanceState.STOPPED)).isTrue();
        assertThat(InstanceState.STOPPED.canBecome(InstanceState.RUNNING)).isTrue();
        assertThat(InstanceState.CREATING.canBecome(InstanceState.STOPPED)).isFalse();
        for (InstanceState state : InstanceState.values()) {
            assertThat(InstanceState.DELETING.canBecome(state)).isFalse();
        }
    }
}
