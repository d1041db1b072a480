package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A team's rate across the nodes is a token bucket kept as one time: a minute's runs at once, then one per share of the minute. */
class TeamRunRateTest {
    private static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");

    @Test
    void aFullBucketLetsAMinutesRunsThroughAtOnceThenOneEachShareOfTheMinute() {
        TeamRunRate rate = new TeamRunRate(3);
        Instant next = rate.admit(null, T0);
        assertThat(next).isEqualTo(T0.plusSeconds(20));
        next = rate.admit(next, T0);
        next = rate.admit(next, T0);
        assertThat(next).isEqualTo(T0.plusSeconds(60));
        Instant full = next;
        assertThatThrownBy(() -> rate.admit(full, T0.plusSeconds(19))).isInstanceOf(KeelException.class)
                .hasMessage("Your team started 3 dataclip runs within the last minute, the most it may"
                        + " (KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE); try again in 1 s.");
        assertThatThrownBy(() -> rate.admit(full, T0.plusMillis(500))).hasMessageEndingWith("try again in 20 s.");
        // A share of the minute later, one more run; the bucket then is as full as before.
        assertThat(rate.admit(full, T0.plusSeconds(20))).isEqualTo(T0.plusSeconds(80));
        // A quiet minute fills it again: the time is never kept behind now.
        assertThat(rate.admit(full, T0.plusSeconds(600))).isEqualTo(T0.plusSeconds(620));
    }

    @Test
    void aRunsShareIsWholeMicrosecondsAsTheCatalogKeepsTimes() {
        assertThat(new TeamRunRate(60).share()).isEqualTo(Duration.ofSeconds(1));
        assertThat(new TeamRunRate(7).share().toNanos()).isEqualTo(8_571_429_000L); // rounded up
        assertThat(new TeamRunRate(Integer.MAX_VALUE).share().toNanos()).isEqualTo(1000L);
        assertThat(new TeamRunRate(Integer.MAX_VALUE).admit(T0, T0)).isEqualTo(T0.plusNanos(1000));
    }

    @Test
    void theRefusalSaysWhenToTryAgain() {
        KeelException refused = TeamRunRate.refusal(60, 0);
        assertThat(refused.getMessage()).endsWith("try again in 1 s.");
        assertThatThrownBy(() -> new TeamRunRate(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
