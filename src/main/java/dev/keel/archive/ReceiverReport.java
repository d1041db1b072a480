package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.WalSegmentName;
import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.Optional;

/** The WAL receiver's part of {@code /archive}: its state, where it is, its slot, and where the rollback window ends. */
final class ReceiverReport {
    /** WAL older than this not in the store makes the receiver "behind" (and so does a catch-up, from its first moment). */
    static final long BEHIND_SECONDS = 5;
    /** A slot that may keep less than this more WAL before the server drops it is about to be invalidated. */
    static final long SLOT_DANGER_BYTES = 1L << 30;

    private ReceiverReport() {
    }

    /**
     * {@code waitedFor}: the plan makes commits wait for the receiver ({@link SynchronousArchive});
     * whether they do now is {@code synchronous} (null when the server was not seen), and while they
     * do not the message says so.
     */
    static ArchiveReport.Receiver of(Optional<WalReceivers.Receiving> receiving, Optional<StreamedWal> partial,
                                     @Nullable ServerSession.ServerWal seen, long lagSeconds, boolean waitedFor) {
        Optional<WalStream.Status> streaming = receiving.map(WalReceivers.Receiving::status);
        String slotStatus = seen == null ? null : seen.slotWalStatus();
        Long safe = seen == null ? null : seen.slotSafeWalSize();
        Lsn fromStream = streaming.map(WalStream.Status::stored).orElse(null);
        Lsn fromCatalog = partial.map(StreamedWal::end).orElse(null);
        Lsn streamed = fromStream == null || (fromCatalog != null && fromCatalog.isAfter(fromStream)) ? fromCatalog : fromStream;
        Instant streamedAt = streaming.map(WalStream.Status::storedAt).or(() -> partial.map(StreamedWal::storedAt)).orElse(null);
        Lsn received = streaming.map(WalStream.Status::received).orElse(null);
        Long behind = seen == null || received == null ? null : Math.max(0, seen.flushed().bytesSince(received));
        String state;
        String message = null;
        if (streaming.isEmpty()) {
            state = "off";
        } else if (!streaming.get().connected()) {
            state = "reconnecting";
            message = streaming.get().problem() == null ? null : "The WAL receiver is not streaming: " + streaming.get().problem();
        } else if (streaming.get().catchUpTo() != null) {
            state = "behind";
            message = "The WAL receiver is catching up: the server had flushed " + streaming.get().catchUpTo() + " when it connected, "
                    + (streamed == null ? "none of which" : "through " + streamed) + " is in the object store; the oldest WAL not"
                    + " in it is " + lagSeconds + " s old at least.";
        } else if (lagSeconds > BEHIND_SECONDS) {
            state = "behind";
            message = "The WAL receiver is " + lagSeconds + " s behind the server: the object store is slow or does not answer.";
        } else {
            state = "streaming";
        }
        Boolean synchronous = seen == null ? null : seen.slotWaitedFor();
        if (waitedFor && Boolean.FALSE.equals(synchronous)) {
            message = "Degraded: commits are acknowledged before their WAL is in the object store, until the WAL receiver streams"
                    + " again and has caught up" + (message == null ? "." : ". " + message);
        }
        if (slotInDanger(seen)) {
            message = "The WAL receiver's slot on the primary is " + slotStatus + (safe == null ? "" : ", " + safe
                    + " bytes short of max_slot_wal_keep_size") + ": the server drops its WAL past that rather than stop writing."
                    + " archive_command still archives every segment.";
        }
        return new ArchiveReport.Receiver(state, streamed == null ? null : streamed.toString(), streamedAt,
                received == null ? null : received.toString(), behind, slotStatus, safe, message,
                receiving.map(WalReceivers.Receiving::node).orElse(null), synchronous);
    }

    static boolean slotInDanger(@Nullable ServerSession.ServerWal seen) {
        if (seen == null || seen.slotWalStatus() == null) {
            return false;
        }
        return "unreserved".equals(seen.slotWalStatus()) || "lost".equals(seen.slotWalStatus())
                || (seen.slotSafeWalSize() != null && seen.slotSafeWalSize() < SLOT_DANGER_BYTES);
    }

    /**
     * Where the rollback window ends, given the furthest segment {@code last} reached without a
     * gap: now while the receiver streams with nothing unstored past it; else when the partial
     * segment that follows it was stored; else when {@code last} was finished. During a catch-up
     * those are when old WAL reached the store, not when it was written: the window then ends no
     * later than the last time the receiver knew everything as stored (or, not knowing one, the
     * oldest unstored WAL's time), while the receiver is connected and catching up.
     */
    static Instant windowEnd(ArchivedWal last, Optional<StreamedWal> partial, Optional<WalStream.Status> streaming, Instant now) {
        WalSegmentName segment = last.file().segment().orElseThrow();
        Instant end = last.completedAt();
        if (partial.isPresent() && partial.get().segment().timeline().equals(segment.timeline())
                && partial.get().segment().number() == segment.number() + 1 && partial.get().storedAt().isAfter(end)) {
            end = partial.get().storedAt();
        }
        if (streaming.isPresent()) {
            WalStream.Status status = streaming.get();
            Lsn stored = status.stored();
            boolean contiguous = stored != null && !segment.endLsn().isAfter(stored)
                    && WalSegmentName.containing(segment.timeline(), new Lsn(stored.value() - 1)).number() <= segment.number() + 1;
            if (status.connected() && status.unstoredSince() == null && contiguous) {
                end = now;
            }
            Instant known = status.caughtUpAt() != null ? status.caughtUpAt() : status.unstoredSince();
            // Only while connected: a stream whose server is gone catches up to nothing, and a rollback of that server "to now"
            // takes this end as its target, which must keep the WAL it stored after its last catch-up.
            if (status.connected() && status.catchUpTo() != null && known != null && known.isBefore(end)) {
                end = known;
            }
        }
        return end;
    }
}
