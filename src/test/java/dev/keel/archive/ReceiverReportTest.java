package dev.keel.archive;

import dev.keel.catalog.schema.tables.records.WalReceiversRecord;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The receiver's state and the window's end as /archive shows them, from a stream's status. */
class ReceiverReportTest {
    private static final Instant NOW = Instant.parse("2026-12-07T15:00:00Z");
    private static final TimelineId TIMELINE = new TimelineId(1);
    private static final WalSegmentName LAST = new WalSegmentName(TIMELINE, 2);
    private static final ArchivedWal ARCHIVED = new ArchivedWal(WalFileName.parse(LAST.toString()).orElseThrow(), 16 << 20, 1 << 20,
            "sha", NOW.minusSeconds(60), NOW.minusSeconds(60));
    /** What the server had flushed when the stream connected: well into the segment after the last archived one. */
    private static final Lsn AT_CONNECT = new Lsn(LAST.next().startLsn().value() + (8 << 20));
    private static final Lsn STORED = new Lsn(LAST.next().startLsn().value() + (2 << 20));

    /** A connected stream that received what the server had at its connection and stored through {@link #STORED}. */
    private static WalStream.Status status(Instant unstoredSince, Lsn catchUpTo, Instant caughtUpAt) {
        return new WalStream.Status(true, AT_CONNECT, STORED, unstoredSince, NOW, null, catchUpTo, caughtUpAt);
    }

    /** The catch-up's newest part, stored just now (of WAL written long before). */
    private static Optional<StreamedWal> partial() {
        return Optional.of(new StreamedWal(UUID.randomUUID(), UUID.randomUUID(), 1, LAST.next(), STORED, 2 << 20, 1 << 18, "sha",
                NOW.minusMillis(200), null));
    }

    @Test
    void aCatchUpIsBehindFromItsFirstSecondAndSaysWhereItIsGoing() {
        WalStream.Status catchingUp = status(NOW.minusMillis(300), AT_CONNECT, NOW.minusSeconds(20));
        ArchiveReport.Receiver receiver = ReceiverReport.of(Optional.of(new WalReceivers.Receiving("node-b", catchingUp)), partial(), null,
                1, false);
        assertThat(receiver.state()).isEqualTo("behind");
        assertThat(receiver.message()).isEqualTo("The WAL receiver is catching up: the server had flushed " + AT_CONNECT
                + " when it connected, through " + STORED + " is in the object store; the oldest WAL not in it is 1 s old at least.");
    }

    @Test
    void aStreamCaughtUpWithItsConnectionStreamsAndItsWindowEndsNow() {
        WalStream.Status caughtUp = status(null, null, null);
        assertThat(ReceiverReport.of(Optional.of(new WalReceivers.Receiving("node-b", caughtUp)), partial(), null, 0, false).state())
                .isEqualTo("streaming");
        assertThat(ReceiverReport.windowEnd(ARCHIVED, partial(), Optional.of(caughtUp), NOW)).isEqualTo(NOW);
    }

    @Test
    void duringACatchUpTheWindowEndsWhenTheReceiverLastKnewEverythingStoredNotWhenOldWalReachedTheStore() {
        Instant caughtUpAt = NOW.minusSeconds(20);
        WalStream.Status catchingUp = status(NOW.minusSeconds(5), AT_CONNECT, caughtUpAt);
        assertThat(ReceiverReport.windowEnd(ARCHIVED, partial(), Optional.of(catchingUp), NOW)).isEqualTo(caughtUpAt);
        // Knowing no such time (new on its node, its server never streamed): no later than the oldest unstored WAL's time.
        WalStream.Status unknowing = status(NOW.minusSeconds(5), AT_CONNECT, null);
        assertThat(ReceiverReport.windowEnd(ARCHIVED, partial(), Optional.of(unknowing), NOW)).isEqualTo(NOW.minusSeconds(5));
    }

    @Test
    void aStreamThatLostItsServerMidCatchUpEndsItsWindowAsBeforeNotAtItsOldCatchUp() {
        // The server crashed (still RUNNING in the catalog) during an earlier catch-up: a rollback "to now" takes the
        // window's end as its target, which must keep the WAL stored after that catch-up's last caught-up moment.
        WalStream.Status lost = new WalStream.Status(false, AT_CONNECT, STORED, NOW.minusSeconds(5), NOW.minusMillis(200), "gone",
                AT_CONNECT, NOW.minusSeconds(3600));
        assertThat(ReceiverReport.windowEnd(ARCHIVED, partial(), Optional.of(lost), NOW)).isEqualTo(NOW.minusMillis(200));
    }

    @Test
    void anotherNodesRowCarriesACatchUpOnlyWhileItIsPastWhatIsStored() {
        // A node of an earlier version upserted the row after its catch-up was done, without writing catch_up_lsn.
        WalReceiversRecord stale = new WalReceiversRecord(UUID.randomUUID(), UUID.randomUUID(), "node-old", true, AT_CONNECT.value() + 4096,
                AT_CONNECT.value() + 4096, NOW.atOffset(ZoneOffset.UTC), null, null, NOW.atOffset(ZoneOffset.UTC), AT_CONNECT.value(),
                NOW.minusSeconds(3600).atOffset(ZoneOffset.UTC));
        WalStream.Status done = ArchiveRepository.reportedStatus(stale);
        assertThat(done.catchUpTo()).isNull();
        assertThat(done.caughtUpAt()).isNull();
        assertThat(ReceiverReport.of(Optional.of(new WalReceivers.Receiving("node-old", done)), Optional.empty(), null, 0, false).state())
                .isEqualTo("streaming");
        // A catch-up still going is read as written.
        WalReceiversRecord going = new WalReceiversRecord(UUID.randomUUID(), UUID.randomUUID(), "node-b", true, AT_CONNECT.value(),
                STORED.value(), NOW.atOffset(ZoneOffset.UTC), null, null, NOW.atOffset(ZoneOffset.UTC), AT_CONNECT.value(),
                NOW.minusSeconds(20).atOffset(ZoneOffset.UTC));
        assertThat(ArchiveRepository.reportedStatus(going).catchUpTo()).isEqualTo(AT_CONNECT);
        assertThat(ArchiveRepository.reportedStatus(going).caughtUpAt()).isEqualTo(NOW.minusSeconds(20));
    }
}
