package dev.keel.replication;

import dev.keel.StartupException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The HA monitor's rules that need no server: T_fence's floor, when a standby last replied by this
 * host's clock, and when a fenced primary on a silent node counts as stopped.
 */
class HaRulesTest {
    private static final Duration FENCED_BY = Duration.ofMillis(2750);

    @Test
    void tFenceIsAtLeastASecondAndAHalf() {
        assertThat(HaMonitor.fenceAfter("1500ms")).isEqualTo(Duration.ofMillis(1500));
        assertThat(HaMonitor.fenceAfter("2s")).isEqualTo(Duration.ofSeconds(2));
        assertThatThrownBy(() -> HaMonitor.fenceAfter("1499ms")).isInstanceOf(StartupException.class)
                .hasMessageStartingWith("KEEL_HA_FENCE_AFTER (1499 ms) must be at least 1.5 s: a standby replies to its primary every second");
    }

    @Test
    void aReplyIsNeverLaterThanItsReadAndAStandbyClockSeenAheadMakesItOlder() {
        long began = 10_000_000_000L;
        long ahead = 300_000_000L;
        assertThat(StandbyClock.repliedAt(began, 0.5, 0)).isEqualTo(began - 500_000_000L);
        assertThat(StandbyClock.repliedAt(began, -0.3, 0)).as("a stamp from the future: now at the latest").isEqualTo(began);
        assertThat(StandbyClock.repliedAt(began, 0.5, ahead)).as("older by the lead once seen").isEqualTo(began - 800_000_000L);
        assertThat(StandbyClock.repliedAt(began, -0.2, ahead)).isEqualTo(began - 100_000_000L);
    }

    @Test
    void aStandbyClocksLeadIsItsLargestSeenKeptTenMinutesAndAnotherStandbyStartsAfresh() {
        StandbyClock clock = new StandbyClock();
        String one = UUID.randomUUID().toString();
        long now = 1_000_000_000_000L;
        assertThat(clock.note(one, 0.4, now)).isZero();
        assertThat(clock.note(one, -0.3, now)).as("grew by").isEqualTo(300_000_000L);
        assertThat(clock.note(one, -0.1, now + 1)).as("a smaller lead changes nothing").isZero();
        assertThat(clock.aheadNanos()).isEqualTo(300_000_000L);
        assertThat(clock.note(one, 0.2, now + StandbyClock.LEAD_KEPT_NANOS)).isZero();
        assertThat(clock.aheadNanos()).as("kept ten minutes after it was last seen").isEqualTo(300_000_000L);
        clock.note(one, 0.2, now + StandbyClock.LEAD_KEPT_NANOS + 1);
        assertThat(clock.aheadNanos()).as("then forgotten").isZero();
        clock.note(one, -0.3, now);
        clock.note(UUID.randomUUID().toString(), 0.2, now + 2);
        assertThat(clock.aheadNanos()).as("another standby starts afresh").isZero();
    }

    @Test
    void aStandbyClockBehindIsMeasuredFromItsSteadyRepliesYoungestAgeAndSaidOnceAHungStandbyIsNot() {
        long second = 1_000_000_000L;
        long now = 1_000_000_000_000L;
        String standby = UUID.randomUUID().toString();
        StandbyClock right = new StandbyClock();
        for (int i = 0; i <= 31; i++) {
            right.note(standby, 0.1 + (i % 9) / 10.0, now + i * second); // replies every second, read at every phase
        }
        assertThat(right.behindToSay()).as("a right clock").isEqualTo(-1);
        StandbyClock behind = new StandbyClock();
        for (int i = 0; i <= 31; i++) {
            behind.note(standby, 3.1 + (i % 9) / 10.0, now + i * second); // the same, 3 s behind
        }
        assertThat(behind.behindToSay()).as("at least: the youngest age less a reply's interval and the slack")
                .isEqualTo((long) (3.1 * second) - StandbyClock.REPLY_EVERY_NANOS - StandbyClock.BEHIND_SLACK_NANOS);
        assertThat(behind.behindToSay()).as("said once").isEqualTo(-1);
        for (int i = 32; i <= 95; i++) { // the window that straddles the change is not steady: the next one measures
            behind.note(standby, 0.1 + (i % 9) / 10.0, now + i * second); // NTP set it right
        }
        assertThat(behind.behindToSay()).as("no longer behind").isZero();
        StandbyClock hung = new StandbyClock();
        for (int i = 0; i <= 31; i++) {
            hung.note(standby, 3.0 + i, now + i * second); // no reply since: its age grows with every read
        }
        assertThat(hung.behindToSay()).as("a hung standby is not a clock behind").isEqualTo(-1);
        StandbyClock sparse = new StandbyClock();
        for (int i = 0; i <= 62; i += 2) {
            sparse.note(standby, 3.1 + (i % 9) / 10.0, now + i * second); // one read in two seconds: 16 in the window
        }
        assertThat(sparse.behindToSay()).as("too few reads to measure").isEqualTo(-1);
        StandbyClock gaps = new StandbyClock();
        for (int i = 0; i <= 62; i++) {
            if (i % 5 != 4) {
                continue;
            }
            gaps.note(standby, 3.1, now + i * second);
        }
        assertThat(gaps.behindToSay()).as("reads further apart than the gap start the window again").isEqualTo(-1);
        StandbyClock replaced = new StandbyClock();
        for (int i = 0; i <= 31; i++) {
            replaced.note(standby, 3.1 + (i % 9) / 10.0, now + i * second);
        }
        assertThat(replaced.behindToSay()).isPositive();
        replaced.note(UUID.randomUUID().toString(), 0.2, now + 32 * second);
        assertThat(replaced.behindToSay()).as("another standby: what was said is taken back").isZero();
    }

    @Test
    void aFencedPrimaryOnASilentNodeIsStoppedForSureOnlyOnceItsPortAndItsNodeWereSilentLongerThanFencing() {
        Duration longer = FENCED_BY.plusMillis(1);
        assertThat(HaMonitor.lostForSure(longer, false, Optional.of(longer), FENCED_BY)).isTrue();
        assertThat(HaMonitor.lostForSure(FENCED_BY, false, Optional.of(longer), FENCED_BY)).as("port down only as long as fencing takes").isFalse();
        assertThat(HaMonitor.lostForSure(longer, false, Optional.of(FENCED_BY), FENCED_BY)).as("node silent only as long as fencing takes").isFalse();
        assertThat(HaMonitor.lostForSure(longer, false, Optional.empty(), FENCED_BY)).as("node not silent").isFalse();
        assertThat(HaMonitor.lostForSure(longer, true, Optional.of(longer), FENCED_BY)).as("a node of another version, whose fencing may differ").isFalse();
    }
}
