package dev.keel.archive;

import dev.keel.postgres.Lsn;
import org.junit.jupiter.api.Test;

import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** When a chunk of WAL counts as a sighting of its server, whatever the two clocks say ({@link SendTimes}). */
class SendTimesTest {
    private static final Instant CONNECTED = Instant.parse("2026-12-07T12:00:00Z");

    @Test
    void chunksThatWaitedBeforeThePromptOnesCountFromWhenTheyWereSentOnceAPromptOneComes() {
        Sightings sightings = new Sightings();
        SendTimes times = new SendTimes(CONNECTED);
        Lsn stored = new Lsn(1 << 24);
        // The server's clock 3 s behind Keel's. The first chunks waited 5 s in the connection while the stream cleared a
        // segment: the least delay yet is theirs (8 s), so they count from their arrival.
        Instant arrived = CONNECTED.plusSeconds(6);
        times.chunk(new Lsn((1 << 24) + 8192), arrived.minusSeconds(8), arrived, sightings, stored);
        times.chunk(new Lsn((1 << 24) + 16384), arrived.minusSeconds(8).plusMillis(300), arrived.plusMillis(300), sightings, stored);
        assertThat(sightings.oldestUnstored(stored, null)).isEqualTo(arrived);
        // A prompt chunk: 3 s and 2 ms. Those before were sent 5 s earlier than they were taken for.
        Instant now = arrived.plusMillis(10);
        times.chunk(new Lsn((1 << 24) + 24576), now.minusMillis(3_002), now, sightings, stored);
        assertThat(sightings.oldestUnstored(stored, null)).isEqualTo(arrived.minusMillis(4_998));
        assertThat(sightings.oldestUnstored(new Lsn((1 << 24) + 8192), null)).isEqualTo(arrived.minusMillis(4_998).plusMillis(300));
        assertThat(sightings.oldestUnstored(new Lsn((1 << 24) + 16384), null)).isEqualTo(now);
    }

    @Test
    void aChunkThatWaitedInTheConnectionCountsFromWhenItWasSent() {
        Instant arrived = CONNECTED.plusSeconds(10);
        // Same clocks, a 2 ms transit at best: a chunk sent 6 s before it arrived is that old.
        assertThat(SendTimes.sighted(arrived.minusSeconds(6), 2, arrived, CONNECTED)).isEqualTo(arrived.minusSeconds(6).plusMillis(2));
    }

    @Test
    void aServerClockBehindKeelsDoesNotMakeEveryChunkLookOlder() {
        Instant arrived = CONNECTED.plusSeconds(10);
        // The server's clock 3 s behind: its chunks say they were sent 3 s before they arrive, every one of them; the least
        // delay of the connection (3 s and a transit) takes that back, so a fresh chunk is fresh, and one that waited 6 s is 6 s old.
        assertThat(SendTimes.sighted(arrived.minusMillis(3_002), 3_002, arrived, CONNECTED)).isEqualTo(arrived);
        assertThat(SendTimes.sighted(arrived.minusMillis(9_002), 3_002, arrived, CONNECTED)).isEqualTo(arrived.minusSeconds(6));
    }

    @Test
    void aServerClockAheadOfKeelsDoesNotMakeAChunkThatWaitedLookFresh() {
        Instant arrived = CONNECTED.plusSeconds(10);
        // The server's clock 5 s ahead, the least delay -4998 ms (a 2 ms transit): a chunk that waited 3 s is 3 s old, not fresh.
        assertThat(SendTimes.sighted(arrived.plusSeconds(5).minusSeconds(3), -4_998, arrived, CONNECTED))
                .isEqualTo(arrived.minusSeconds(3).plusMillis(2));
        assertThat(SendTimes.sighted(arrived.plusSeconds(5), -4_998, arrived, CONNECTED)).as("never later than its arrival")
                .isEqualTo(arrived);
        assertThat(SendTimes.sighted(CONNECTED.minusSeconds(3_600), 0, arrived, CONNECTED)).as("never earlier than the connection")
                .isEqualTo(CONNECTED);
    }
}
