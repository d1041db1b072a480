package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalSegmentName;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** What a WAL stream counts as unstored across its connections: its catch-ups and what the server was seen holding. */
class SightingsTest {
    private static final Instant NOW = Instant.parse("2026-12-07T15:00:00Z");
    private static final WalSegmentName SEGMENT = new WalSegmentName(new TimelineId(1), 5);

    private static Lsn into(long bytes) {
        return new Lsn(SEGMENT.startLsn().value() + bytes);
    }

    @Test
    void aCatchUpStoredBeforeTheStreamStartsAgainFromItsSlotIsNotUnfinished() {
        Sightings sightings = new Sightings();
        sightings.connected(into(8 << 20), NOW.minusSeconds(3 * 3600)); // three hours ago
        // That connection stored all of it (and more), then broke; the slot's restart point is the segment's start.
        sightings.connectionEnded(into(9 << 20));
        Lsn restart = SEGMENT.startLsn();
        sightings.connected(into(10 << 20), NOW);
        assertThat(sightings.oldestUnstored(restart, null)).isEqualTo(NOW);
        assertThat(sightings.kept()).isZero();
    }

    @Test
    void aCatchUpNotFinishedWhenItsConnectionEndsStaysTheOldestUnstoredWal() {
        Sightings sightings = new Sightings();
        Instant first = NOW.minusSeconds(60);
        sightings.connected(into(8 << 20), first);
        sightings.connectionEnded(into(2 << 20));
        assertThat(sightings.catchingUp(into(2 << 20))).isNull(); // the connection is over: nothing to catch up to
        assertThat(sightings.oldestUnstored(into(2 << 20), null)).isEqualTo(first);
        sightings.connected(into(12 << 20), NOW);
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(first);
        assertThat(sightings.oldestUnstored(into(8 << 20), null)).isEqualTo(NOW);
    }

    @Test
    void aStoreOutageThatReconnectsEverySecondKeepsItsFirstCatchUpAndTheWalEachLaterOneFoundWithinItsBound() {
        Sightings sightings = new Sightings();
        Instant first = NOW.minusSeconds(2 * Sightings.MAX);
        for (int i = 0; i < 2 * Sightings.MAX; i++) {
            sightings.connected(into((8 << 20) + i * 8192L), first.plusSeconds(i));
            sightings.connectionEnded(SEGMENT.startLsn()); // nothing stored: the store does not answer
        }
        assertThat(sightings.kept()).isEqualTo(Sightings.MAX);
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(first);
        // Past the first catch-up's end the WAL is younger, never younger than when a connection found it, nor much older.
        Instant later = sightings.oldestUnstored(into(8 << 20), null);
        assertThat(later).isBetween(first, first.plusSeconds(1));
        Instant last = sightings.oldestUnstored(into((8 << 20) + (2 * Sightings.MAX - 2) * 8192L), null);
        assertThat(last).isBeforeOrEqualTo(first.plusSeconds(2 * Sightings.MAX - 1)).isAfter(first.plusSeconds(2 * Sightings.MAX - 10));
    }

    @Test
    void anUnfinishedCatchUpOlderThanEverySightingIsKeptWhenTheyAreAtTheirBound() {
        Sightings sightings = new Sightings();
        Instant connect = NOW.minusSeconds(3600);
        sightings.connected(into(1 << 20), connect);
        for (int i = 0; i < Sightings.MAX; i++) {
            sightings.chunkSeen(into((2 << 20) + i * 8192L), NOW.minusSeconds(Sightings.MAX - i), SEGMENT.startLsn());
        }
        sightings.connectionEnded(SEGMENT.startLsn());
        assertThat(sightings.kept()).as("the chunks' and the catch-up").isEqualTo(Sightings.MAX + 1);
        assertThat(sightings.oldestUnstored(into((2 << 20) + (Sightings.MAX - 2) * 8192L), null)).as("the newest sighting's end kept")
                .isEqualTo(NOW.minusSeconds(1));
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(connect);
    }

    @Test
    void caughtUpDatesFromWhenTheServerWasLastHeardNotFromReadsThatFoundNothing() {
        Sightings sightings = new Sightings();
        Instant connect = NOW.minusSeconds(30);
        sightings.connected(into(1 << 20), connect);
        sightings.settled(SEGMENT.startLsn(), null); // catching up: not caught up at all yet
        assertThat(sightings.caughtUpAt()).isNull();
        Instant lastQuiet = NOW.minusSeconds(9); // the last read that found nothing before the last chunk
        sightings.heard(lastQuiet, into(1 << 20));
        sightings.settled(into(1 << 20), NOW.minusSeconds(8)); // what arrived is not stored yet
        assertThat(sightings.caughtUpAt()).isNull();
        sightings.settled(into(1 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(lastQuiet);
        // The link is cut without a word: reads find nothing for seconds, until the silence check ends the connection.
        for (int read = 0; read < 80; read++) {
            sightings.settled(into(1 << 20), null);
        }
        sightings.connectionEnded(into(1 << 20));
        assertThat(sightings.caughtUpAt()).isEqualTo(lastQuiet);
        // The next connection finds more flushed: its catch-up does not move it either, until it is stored.
        sightings.connected(into(3 << 20), NOW);
        sightings.heard(NOW.plusSeconds(1), into(3 << 20));
        sightings.settled(into(2 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(lastQuiet);
        sightings.settled(into(3 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.plusSeconds(1));
    }

    @Test
    void aChunkOfABacklogLeavesTheLastCaughtUpMomentUntilTheServersEndOfWalAsItSentItIsStored() {
        Sightings sightings = new Sightings();
        Instant connect = NOW.minusSeconds(30);
        sightings.connected(into(1 << 20), connect);
        sightings.settled(into(1 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(connect);
        // A burst: each chunk ends short of what the server had flushed when it sent it; then the link is cut silently
        // mid-burst, and everything that arrived is stored.
        sightings.heard(NOW.minusSeconds(10), into(4 << 20));
        sightings.heard(NOW.minusSeconds(9), into(6 << 20));
        sightings.settled(into(2 << 20), null);
        assertThat(sightings.caughtUpAt()).as("the server had through 6 MiB when it sent the last chunk").isEqualTo(connect);
        assertThat(sightings.caughtUpWith(into(5 << 20), null)).isEqualTo(connect);
        // The burst's last chunk ends where the server's WAL did: everything it had then is stored once that chunk is.
        sightings.heard(NOW.minusSeconds(8), into(6 << 20));
        sightings.settled(into(6 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.minusSeconds(8));
        // A chunk that did not say the server's end proves nothing.
        sightings.heard(NOW.minusSeconds(7), null);
        sightings.settled(into(7 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.minusSeconds(8));
    }

    @Test
    void aChunkWithinTheSpacingGivesItsEndToTheSightingBeforeItSoThatNoUnstoredEndIsLeftWithoutOne() {
        Sightings sightings = new Sightings();
        sightings.chunkSeen(into(2 << 20), NOW.minusSeconds(6), into(1 << 20));
        sightings.chunkSeen(into(3 << 20), NOW.minusSeconds(6).plusMillis(50), into(1 << 20));
        assertThat(sightings.kept()).isEqualTo(1);
        // Stored past the first end, not the second: the WAL up to the second is unstored and as old as the first sighting.
        assertThat(sightings.oldestUnstored(into((2 << 20) + 8192), null)).isEqualTo(NOW.minusSeconds(6));
        assertThat(sightings.oldestUnstored(into(3 << 20), null)).isNull();
        // Past the spacing, a sighting of its own.
        sightings.chunkSeen(into(4 << 20), NOW.minusSeconds(6).plus(Sightings.CHUNK_SPACING), into(1 << 20));
        assertThat(sightings.kept()).isEqualTo(2);
        assertThat(sightings.oldestUnstored(into(3 << 20), null)).isEqualTo(NOW.minusSeconds(6).plus(Sightings.CHUNK_SPACING));
    }

    @Test
    void atTheBoundAChunkAfterTheNewestSightingWasStoredStillLeavesItsEndSighted() {
        Sightings sightings = new Sightings();
        for (int i = 0; i < Sightings.MAX; i++) {
            sightings.chunkSeen(into((2 << 20) + i * 8192L), NOW.minusSeconds(Sightings.MAX - i), into(1 << 20));
        }
        Lsn newest = into((2 << 20) + (Sightings.MAX - 1) * 8192L);
        // Stored through every sighting's end (a segment still being archived: not forgotten), then a chunk within the spacing.
        sightings.chunkSeen(into(5 << 20), NOW.minusSeconds(1).plusMillis(50), newest);
        assertThat(sightings.kept()).isEqualTo(Sightings.MAX);
        assertThat(sightings.oldestUnstored(newest, null)).as("the new end, no later than its chunk").isEqualTo(NOW.minusSeconds(1));
    }

    @Test
    void aReportsSightingNewerThanTheStreamsChunksTakesNoneOfTheirEnds() {
        Sightings sightings = new Sightings();
        Instant sent = NOW.minusSeconds(5);
        sightings.chunkSeen(into(2 << 20), sent, into(1 << 20));
        // A report reads the server's flush position while chunks sent just after the first wait in the connection.
        sightings.serverSeen(into(6 << 20), sent.plusSeconds(2), into(1 << 20));
        sightings.chunkSeen(into(3 << 20), sent.plusMillis(50), into(1 << 20));
        sightings.chunkSeen(into(4 << 20), sent.plusMillis(150), into(1 << 20));
        assertThat(sightings.oldestUnstored(into(2 << 20), null)).as("the chunks' WAL, as old as the sighting before it")
                .isEqualTo(sent);
        assertThat(sightings.oldestUnstored(into(3 << 20), null)).isEqualTo(sent.plusMillis(150));
        assertThat(sightings.oldestUnstored(into(4 << 20), null)).isEqualTo(sent.plusSeconds(2));
        assertThat(sightings.oldestUnstored(into(6 << 20), null)).isNull();
    }

    @Test
    void sightingsGoOnlyWhenTheStreamForgetsThemAsDurableNotWhenAStoredPositionPassesThem() {
        Sightings sightings = new Sightings();
        Instant sent = NOW.minusSeconds(30);
        sightings.chunkSeen(into(2 << 20), sent, into(1 << 20));
        // A whole segment's parts are stored, its archiving pending: the stored position passes the sighting...
        assertThat(sightings.oldestUnstored(into(3 << 20), null)).isNull();
        sightings.serverSeen(into(5 << 20), NOW, into(3 << 20));
        // ...then the archiving fails, and the next stream starts before it again: its WAL is as old as it was.
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).isEqualTo(sent);
        sightings.forget(into(2 << 20), into(2 << 20));
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).as("durable: forgotten").isEqualTo(NOW);
    }

    @Test
    void sightingsStoredInTheSegmentBeingStreamedBecomeOneKeptForAReturnToItsStart() {
        Sightings sightings = new Sightings();
        Instant first = NOW.minusSeconds(3600); // a quiet server: its segment fills over an hour
        for (int i = 1; i <= 40; i++) {
            sightings.chunkSeen(into(i * 8192L), first.plusSeconds(i * 60L), SEGMENT.startLsn());
        }
        // Parts stored through the 30th chunk's end, told to the server: within the segment, so not forgotten, but one.
        sightings.forget(SEGMENT.startLsn(), into(30 * 8192L));
        assertThat(sightings.kept()).isEqualTo(11);
        assertThat(sightings.oldestUnstored(into(30 * 8192L), null)).as("past what is stored: as it was")
                .isEqualTo(first.plusSeconds(31 * 60L));
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).as("back at the segment's start: its first sighting")
                .isEqualTo(first.plusSeconds(60));
        // The segment archived whole and the next one begun: forgotten.
        sightings.forget(into(40 * 8192L), into(40 * 8192L));
        assertThat(sightings.kept()).isZero();
    }

    @Test
    void chunksFoundToHaveWaitedMoveEarlierNotBeforeTheirConnectionAndThoseThatSayNoMoreGo() {
        Sightings sightings = new Sightings();
        Instant connect = NOW.minusSeconds(60);
        sightings.connected(into(1 << 20), connect.minusSeconds(10));
        sightings.connectionEnded(SEGMENT.startLsn()); // an unfinished catch-up of the connection before: not moved
        sightings.connected(into(1 << 20), connect);
        // The first chunks waited about 5 s in the connection (the stream was clearing a segment): sighted at their arrival.
        sightings.chunkSeen(into(2 << 20), connect.plusMillis(5_000), SEGMENT.startLsn());
        sightings.chunkSeen(into(3 << 20), connect.plusMillis(5_200), SEGMENT.startLsn());
        // A prompt chunk shows they were sent 4.95 s earlier than taken for.
        sightings.earlierSince(connect, Duration.ofMillis(4_950));
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(connect.minusSeconds(10));
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).isEqualTo(connect.plusMillis(50));
        assertThat(sightings.oldestUnstored(into(2 << 20), null)).isEqualTo(connect.plusMillis(250));
        // Moved further, both to the connection: the first says no more than the second, and goes.
        sightings.earlierSince(connect, Duration.ofSeconds(1));
        assertThat(sightings.kept()).isEqualTo(2);
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).isEqualTo(connect);
        assertThat(sightings.oldestUnstored(into(2 << 20), null)).isEqualTo(connect);
    }

    @Test
    void whatKeelSawItselfDoesNotMoveWithTheChunksNorTakesTheirEnds() {
        Sightings sightings = new Sightings();
        Instant connect = NOW.minusSeconds(60);
        sightings.connected(into(1 << 20), connect);
        // A report's look at the server while the first chunks waited; then a chunk sent within the spacing after it.
        sightings.serverSeen(into(4 << 20), connect.plusSeconds(3), into(1 << 20));
        sightings.chunkSeen(into(2 << 20), connect.plusSeconds(3).plusMillis(20), into(1 << 20));
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).isEqualTo(connect.plusSeconds(3));
        // The chunk was found to have waited: it moves, the report's look does not.
        sightings.earlierSince(connect, Duration.ofSeconds(2));
        assertThat(sightings.oldestUnstored(into(1 << 20), null)).as("the chunk's, moved").isEqualTo(connect.plusSeconds(1).plusMillis(20));
        assertThat(sightings.oldestUnstored(into(2 << 20), null)).as("the report's, where it was").isEqualTo(connect.plusSeconds(3));
    }

    @Test
    void aLongBacklogsSightingsGrowApartButNoneOfItsWalCountsYoungerThanItIsNorFarOlder() {
        Sightings sightings = new Sightings();
        Instant start = NOW.minusSeconds(600);
        sightings.connected(into(8192), start);
        int chunks = 6000; // ten minutes of the server's writing, a chunk each tenth of a second, drained in a catch-up
        for (int i = 1; i <= chunks; i++) {
            sightings.chunkSeen(into(i * 8192L), start.plusMillis(i * 100L), SEGMENT.startLsn());
        }
        sightings.connectionEnded(SEGMENT.startLsn()); // a reconnect at the bound, its catch-up unfinished, drops none of them
        assertThat(sightings.kept()).as("the chunks' and the catch-up").isEqualTo(Sightings.MAX + 1);
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(start);
        Duration worst = Duration.ZERO;
        for (int i = 1; i < chunks; i += 7) {
            Instant written = start.plusMillis((i + 1) * 100L); // the WAL just past into(i * 8192) was sent with the next chunk
            Instant oldest = sightings.oldestUnstored(into(i * 8192L), null);
            assertThat(oldest).as("stored through chunk %d", i).isBeforeOrEqualTo(written);
            worst = worst.compareTo(Duration.between(oldest, written)) > 0 ? worst : Duration.between(oldest, written);
        }
        assertThat(worst).as("overstated by at most a few of 600 s / MAX").isLessThan(Duration.ofSeconds(600).multipliedBy(3).dividedBy(Sightings.MAX));
    }

    @Test
    void sightingsFromManyThreadsStayOrderedWithinTheirBoundAndCoverTheirEnds() throws Exception {
        Sightings sightings = new Sightings();
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int offset = t;
                done.add(threads.submit(() -> {
                    for (int i = 0; i < 5000; i++) {
                        Lsn end = into((i * 3L + offset + 1) * 8192);
                        if (offset == 0) {
                            sightings.chunkSeen(end, NOW.plusMillis(i * 10L), SEGMENT.startLsn());
                        } else {
                            sightings.serverSeen(end, NOW.plusMillis(i * 10L + offset * 3L), SEGMENT.startLsn());
                        }
                    }
                }));
            }
            done.add(threads.submit(() -> {
                for (int i = 0; i < 5000; i++) {
                    Instant oldest = sightings.oldestUnstored(into(i * 8192L), null);
                    // The WAL past into(i * 8192) was sighted by some thread by NOW + 10 i ms + 10 ms, if it was yet.
                    assertThat(oldest == null || !oldest.isAfter(NOW.plusMillis(i * 10L + 10))).as("never younger than its WAL").isTrue();
                }
            }));
            for (Future<?> each : done) {
                each.get();
            }
        } finally {
            threads.shutdown();
        }
        assertThat(sightings.kept()).as("the chunks' and the reports'").isEqualTo(2 * Sightings.MAX);
        assertThat(sightings.oldestUnstored(SEGMENT.startLsn(), null)).isEqualTo(NOW);
        Lsn last = into((4999 * 3L + 3) * 8192);
        assertThat(sightings.oldestUnstored(new Lsn(last.value() - 1), null)).as("the last end sighted")
                .isBeforeOrEqualTo(NOW.plusMillis(4999 * 10L + 6)).isAfter(NOW.plusSeconds(40));
    }

    @Test
    void aServerSeenPastWhatIsStoredKeepsTheStreamFromCountingItselfCaughtUp() {
        Sightings sightings = new Sightings();
        sightings.connected(into(1 << 20), NOW.minusSeconds(10));
        sightings.settled(into(1 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.minusSeconds(10));
        sightings.serverSeen(into(2 << 20), NOW.minusSeconds(5), into(1 << 20));
        sightings.heard(NOW.minusSeconds(4), into(1 << 20));
        sightings.settled(into(1 << 20), null);
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.minusSeconds(10));
        assertThat(sightings.caughtUpWith(into(2 << 20), null)).as("once what it was seen holding is stored")
                .isEqualTo(NOW.minusSeconds(4));
        assertThat(sightings.caughtUpAt()).as("only asked").isEqualTo(NOW.minusSeconds(10));
    }

    @Test
    void aNewStreamTakesItsServersEarlierStreamsLastCaughtUpMomentOnlyWhileItKnowsNone() {
        Sightings sightings = new Sightings();
        AtomicInteger asked = new AtomicInteger();
        Instant earlier = NOW.minusSeconds(40);
        sightings.seed(() -> {
            asked.incrementAndGet();
            return Optional.of(earlier);
        });
        assertThat(sightings.caughtUpAt()).isEqualTo(earlier);
        // Its catch-up stores parts of WAL the server had at its connection: each part's row carries the earlier moment,
        // not its own store time, until the catch-up is stored.
        sightings.connected(into(3 << 20), NOW);
        sightings.heard(NOW.plusSeconds(1), into(3 << 20));
        assertThat(sightings.caughtUpWith(into(1 << 20), null)).isEqualTo(earlier);
        assertThat(sightings.caughtUpWith(into(3 << 20), null)).isEqualTo(NOW.plusSeconds(1));
        sightings.settled(into(3 << 20), null);
        // A reconnect keeps what this stream knows: the catalog is not asked again.
        sightings.connectionEnded(into(3 << 20));
        sightings.seed(() -> {
            asked.incrementAndGet();
            return Optional.of(NOW.minusSeconds(3600));
        });
        assertThat(sightings.caughtUpAt()).isEqualTo(NOW.plusSeconds(1));
        assertThat(asked).hasValue(1);
    }

    @Test
    void anEarlierStreamThatKnewNoCaughtUpMomentLeavesItUnknown() {
        Sightings sightings = new Sightings();
        sightings.seed(Optional::empty);
        assertThat(sightings.caughtUpAt()).isNull();
    }
}
