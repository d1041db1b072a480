package dev.keel.archive;

import dev.keel.StartupException;
import dev.keel.databases.Plans;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** KEEL_ARCHIVE_SYNCHRONOUS_PLANS: plans without a standby; a plan that is none, or has a standby, or no receiver, stops the start. */
class SynchronousArchiveTest {
    @Test
    void namesPlansWithoutAStandby() {
        SynchronousArchive synchronous = new SynchronousArchive(new Plans(), " essential-0, standard-0 ", true);
        assertThat(synchronous.plans()).containsExactlyInAnyOrder("essential-0", "standard-0");
        assertThat(synchronous.wants("standard-0")).isTrue();
        assertThat(synchronous.wants("premium-0")).isFalse();
        assertThat(new SynchronousArchive(new Plans(), "", false).plans()).isEmpty();
    }

    @Test
    void aPlanThatIsNoneOrHasAStandbyIsRefused() {
        assertThatThrownBy(() -> new SynchronousArchive(new Plans(), "standard-9", true)).isInstanceOf(StartupException.class)
                .hasMessage("KEEL_ARCHIVE_SYNCHRONOUS_PLANS names 'standard-9', which is no plan; plans are essential-0, standard-0,"
                        + " premium-0");
        assertThatThrownBy(() -> new SynchronousArchive(new Plans(), "premium-0", true)).isInstanceOf(StartupException.class)
                .hasMessageContaining("whose commits wait for its standby already");
        assertThatThrownBy(() -> new SynchronousArchive(new Plans(), "standard-0", false)).isInstanceOf(StartupException.class)
                .hasMessageContaining("KEEL_ARCHIVE_STREAMING=false turns off");
    }
}
