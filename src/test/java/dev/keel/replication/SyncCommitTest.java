package dev.keel.replication;

import dev.keel.postgres.ServerSession;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** When the monitor turns synchronous commit on and off, case by case. */
class SyncCommitTest {
    private static final Duration GRACE = Duration.ofSeconds(5);
    private static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");

    @Test
    void onOnceTheStandbyStreamsCaughtUpAndNotBeforeTheHoldOffEnds() {
        assertThat(decide(true, check(false, "streaming", 0L), Duration.ZERO, null, null).action()).isEqualTo(SyncCommit.Action.ENABLE);
        assertThat(decide(true, check(false, "streaming", 5_000_000L), Duration.ZERO, null, null))
                .isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.NONE, "the standby is catching up"));
        assertThat(decide(true, check(false, "startup", null), Duration.ZERO, NOW, null))
                .isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.NONE, "the standby is not streaming"));
        assertThat(decide(true, check(false, "streaming", 0L), Duration.ZERO, null, NOW.plusSeconds(10)).action())
                .isEqualTo(SyncCommit.Action.NONE);
    }

    @Test
    void offWhenACommitWaitedPastTheGraceOrTheStandbyFellSilent() {
        SyncCommit.Verdict waited = decide(true, check(true, "streaming", 0L), Duration.ofMillis(5_100), null, null);
        assertThat(waited.action()).isEqualTo(SyncCommit.Action.DISABLE);
        assertThat(waited.degraded()).isEqualTo("a commit waited 5.1 s for the standby, more than the 5 s allowed");
        assertThat(decide(true, check(true, "streaming", 0L), Duration.ofSeconds(4), null, null).action()).isEqualTo(SyncCommit.Action.NONE);
        SyncCommit.Verdict silent = decide(true, check(true, "silent", 0L), Duration.ZERO, NOW.minusSeconds(6), null);
        assertThat(silent).isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.DISABLE, "the standby has not streamed for more than 5 s"));
        assertThat(decide(true, check(true, "silent", 0L), Duration.ZERO, NOW.minusSeconds(2), null).action())
                .isEqualTo(SyncCommit.Action.NONE);
    }

    @Test
    void aPlanThatDoesNotAskForItHasItOff() {
        assertThat(decide(false, check(true, "streaming", 0L), Duration.ZERO, null, null))
                .isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.DISABLE, null));
        assertThat(decide(false, check(false, "streaming", 0L), Duration.ZERO, null, null))
                .isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.NONE, null));
    }

    @Test
    void whatCommitsWaitForIsNamedInWhyTheyNoLongerDo() {
        SyncCommit.Verdict waited = SyncCommit.decide("the WAL receiver", true, check(true, "streaming", 0L), Duration.ofMillis(5_100), null,
                null, null, NOW, GRACE);
        assertThat(waited).isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.DISABLE,
                "a commit waited 5.1 s for the WAL receiver, more than the 5 s allowed"));
        assertThat(SyncCommit.decide("the WAL receiver", true, check(false, "catchup", 0L), Duration.ZERO, null, null, null, NOW, GRACE))
                .isEqualTo(new SyncCommit.Verdict(SyncCommit.Action.NONE, "the WAL receiver is not streaming"));
    }

    @Test
    void aWaitIsTimedFromWhenItsStatementWasFirstSeenAndForgottenOnceItEnds() {
        SyncCommit.Seen seen = new SyncCommit.Seen();
        assertThat(seen.observe(waiting("streaming", "7:100.5"), NOW)).isEqualTo(Duration.ZERO);
        assertThat(seen.observe(waiting("streaming", "7:100.5", "8:101.0"), NOW.plusSeconds(3))).isEqualTo(Duration.ofSeconds(3));
        assertThat(seen.observe(waiting("streaming", "8:101.0"), NOW.plusSeconds(4))).isEqualTo(Duration.ofSeconds(1));
        assertThat(seen.observe(waiting("streaming"), NOW.plusSeconds(5))).isEqualTo(Duration.ZERO);
        assertThat(seen.observe(waiting("streaming", "8:101.0"), NOW.plusSeconds(6))).as("a statement that ended and is seen again")
                .isEqualTo(Duration.ZERO);
        seen.forgetWaiters();
        assertThat(seen.observe(waiting("streaming", "8:101.0"), NOW.plusSeconds(7))).isEqualTo(Duration.ZERO);
    }

    @Test
    void notStreamingIsTimedFromItsFirstSightingUntilTheStreamIsBack() {
        SyncCommit.Seen seen = new SyncCommit.Seen();
        seen.observe(waiting("startup"), NOW);
        seen.observe(waiting("catchup"), NOW.plusSeconds(2));
        assertThat(seen.notStreamingSince()).isEqualTo(NOW);
        seen.observe(waiting("streaming"), NOW.plusSeconds(3));
        assertThat(seen.notStreamingSince()).isNull();
        seen.observe(waiting(null), NOW.plusSeconds(4));
        assertThat(seen.notStreamingSince()).isEqualTo(NOW.plusSeconds(4));
        seen.forget();
        assertThat(seen.notStreamingSince()).isNull();
    }

    private static SyncCommit.Verdict decide(boolean wanted, ServerSession.PrimaryCheck check, Duration longestWait, Instant notStreamingSince,
                                             Instant heldOffUntil) {
        return SyncCommit.decide(wanted, check, longestWait, notStreamingSince, null, heldOffUntil, NOW, GRACE);
    }

    private static ServerSession.PrimaryCheck waiting(String standbyState, String... waiters) {
        return new ServerSession.PrimaryCheck(false, null, 0L, standbyState, null, true, List.of(waiters), "reserved", null);
    }

    private static ServerSession.PrimaryCheck check(boolean synchronous, String standbyState, Long lag) {
        return new ServerSession.PrimaryCheck(false, null, lag, standbyState, null, synchronous, List.of(), "reserved", null);
    }
}
