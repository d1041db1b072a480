package dev.keel.replication;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.TimelineHistory;
import dev.keel.postgres.TimelineId;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The follower watch's rules: a lost slot, and Postgres' own test for a standby that cannot follow a new timeline. */
class FollowerChecksTest {
    private static final Optional<TimelineHistory> SECOND = Optional.of(TimelineHistory.parse(new TimelineId(2),
            "1\t0/3000158\tno recovery target specified\n"));
    private static final Optional<ServerSession.Slot> KEPT = Optional.of(new ServerSession.Slot(Lsn.parse("0/3000000"), "reserved",
            null, false));

    @Test
    void aLostSlotIsRebuiltWhatEverTheFollowerSays() {
        FollowerChecks.Verdict verdict = FollowerChecks.judge("leader-1", Optional.of(new ServerSession.Slot(null, "lost", null, false)),
                Optional.empty(), Optional.empty());
        assertThat(verdict.kind()).isEqualTo(FollowerChecks.Verdict.Kind.SLOT_LOST);
        assertThat(verdict.rebuilds()).isTrue();
        assertThat(verdict.sentence()).isEqualTo("its slot on the primary of its leader leader-1 was invalidated (wal_status lost):"
                + " the leader wrote more than max_slot_wal_keep_size while the follower was away or behind, and removed WAL the"
                + " follower had not received");
    }

    @Test
    void aFollowerThatReplayedPastTheForkDivergedAndOneAtOrBeforeItFollows() {
        FollowerChecks.Verdict past = FollowerChecks.judge("leader-1", KEPT, SECOND,
                Optional.of(new FollowerChecks.Position(new TimelineId(1), Lsn.parse("0/3000200"))));
        assertThat(past.kind()).isEqualTo(FollowerChecks.Verdict.Kind.DIVERGED);
        assertThat(past.sentence()).isEqualTo("it diverged from its leader leader-1: it replayed timeline 1 to 0/3000200, past"
                + " 0/3000158 where the leader's timeline 2 forked from it, so it holds WAL the leader's primary never had");
        FollowerChecks.Verdict atFork = FollowerChecks.judge("leader-1", KEPT, SECOND,
                Optional.of(new FollowerChecks.Position(new TimelineId(1), Lsn.parse("0/3000158"))));
        assertThat(atFork.kind()).isEqualTo(FollowerChecks.Verdict.Kind.FOLLOWS);
        FollowerChecks.Verdict switched = FollowerChecks.judge("leader-1", KEPT, SECOND,
                Optional.of(new FollowerChecks.Position(new TimelineId(2), Lsn.parse("0/9000000"))));
        assertThat(switched.kind()).isEqualTo(FollowerChecks.Verdict.Kind.FOLLOWS);
        assertThat(switched.rebuilds()).isFalse();
    }

    @Test
    void aTimelineTheLeaderNeverHadDivergedAndWhatCannotBeReadDecidesNothing() {
        // The leader's timeline 3 forked from 1: timeline 2 was another branch, abandoned.
        Optional<TimelineHistory> third = Optional.of(TimelineHistory.parse(new TimelineId(3), "1\t0/3000158\tno recovery target specified\n"));
        FollowerChecks.Verdict foreign = FollowerChecks.judge("leader-1", KEPT, third,
                Optional.of(new FollowerChecks.Position(new TimelineId(2), Lsn.parse("0/3000000"))));
        assertThat(foreign.kind()).isEqualTo(FollowerChecks.Verdict.Kind.DIVERGED);
        assertThat(foreign.sentence()).isEqualTo("it is on timeline 2, which is not in the history of its leader leader-1's timeline 3");
        // A follower already on a timeline newer than the leader's history as read (the leader failed over since): no verdict.
        FollowerChecks.Verdict newer = FollowerChecks.judge("leader-1", KEPT, SECOND,
                Optional.of(new FollowerChecks.Position(new TimelineId(3), Lsn.parse("0/3000000"))));
        assertThat(newer.kind()).isEqualTo(FollowerChecks.Verdict.Kind.UNKNOWN);
        assertThat(FollowerChecks.judge("leader-1", KEPT, Optional.empty(),
                Optional.of(new FollowerChecks.Position(new TimelineId(1), Lsn.parse("0/3000200")))).kind())
                .isEqualTo(FollowerChecks.Verdict.Kind.UNKNOWN);
        assertThat(FollowerChecks.judge("leader-1", KEPT, SECOND, Optional.empty()).kind()).isEqualTo(FollowerChecks.Verdict.Kind.UNKNOWN);
    }
}
