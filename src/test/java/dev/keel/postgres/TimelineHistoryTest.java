package dev.keel.postgres;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TimelineHistoryTest {
    /** As Postgres 16 wrote it after two promotions. */
    private static final String THIRD = "1\t0/3000158\tno recovery target specified\n\n2\t0/5000A28\tno recovery target specified\n";

    @Test
    void parsesEachAncestorAndWhereItEnded() {
        TimelineHistory history = TimelineHistory.parse(new TimelineId(3), "# a comment\n" + THIRD);
        assertThat(history.ancestors()).containsExactly(new TimelineHistory.Switch(new TimelineId(1), Lsn.parse("0/3000158")),
                new TimelineHistory.Switch(new TimelineId(2), Lsn.parse("0/5000A28")));
        assertThat(history.end(new TimelineId(2))).contains(Lsn.parse("0/5000A28"));
        assertThat(history.end(new TimelineId(3))).isEmpty();
    }

    @Test
    void includesAnAncestorOnlyUpToItsSwitchPointAndTheCurrentTimelineThroughout() {
        TimelineHistory history = TimelineHistory.parse(new TimelineId(3), THIRD);
        assertThat(history.includes(new TimelineId(1), Lsn.parse("0/3000158"))).isTrue();
        assertThat(history.includes(new TimelineId(1), Lsn.parse("0/3000159"))).isFalse();
        assertThat(history.includes(new TimelineId(2), Lsn.parse("0/4000000"))).isTrue();
        assertThat(history.includes(new TimelineId(3), Lsn.parse("7/0"))).isTrue();
        assertThat(history.includes(new TimelineId(4), Lsn.parse("0/1"))).isFalse();
        assertThat(new TimelineHistory(new TimelineId(1), java.util.List.of()).includes(new TimelineId(1), Lsn.parse("9/0"))).isTrue();
    }

    @Test
    void refusesALineWithoutASwitchPoint() {
        assertThatThrownBy(() -> TimelineHistory.parse(new TimelineId(2), "1\n")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a timeline history line: 1");
    }
}
