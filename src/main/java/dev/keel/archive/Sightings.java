package dev.keel.archive;

import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.Comparator;
import java.util.Optional;
import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.Supplier;

/**
 * What a WAL stream knows of its server's WAL beyond what it received: what the server had flushed
 * when the stream connected (until that is stored the stream is catching up), what it was seen
 * holding since, and the last time the stream knew everything the server had as stored. The stream
 * owns its stored position and passes it in; reports read from other threads.
 */
final class Sightings {
    /** Sightings of the server ahead of the store kept at once: the oldest are the ones that matter. */
    static final int MAX = 256;

    /** The server had WAL through {@code flushed} at {@code at}. */
    record Seen(Lsn flushed, Instant at) {
    }

    private final Deque<Seen> seen = new ConcurrentLinkedDeque<>();
    /**
     * What the server had flushed when the stream last connected (IDENTIFY_SYSTEM), and when: all
     * of it existed then, so until it is stored the stream is catching up, and its oldest unstored
     * WAL is at least as old as the connection, however recently it arrived. Null between connections.
     */
    @Nullable
    private volatile Seen atConnect;
    /**
     * When the stream last heard from its server on this connection: IDENTIFY_SYSTEM's answer, then,
     * for each chunk of WAL, the last read before it that found nothing (the chunk was sent no earlier).
     * A read that finds nothing later proves nothing more: a silently cut link reads nothing too, until
     * the silence check ends the connection seconds later.
     */
    @Nullable
    private volatile Instant heardAt;
    /**
     * The server's end of WAL as it last spoke ({@link #heardAt}): what IDENTIFY_SYSTEM said it had
     * flushed, then each chunk's walEnd. Everything the server had when it was last heard from is
     * stored only once this is: a chunk of a backlog (a burst, a catch-up) ends short of it, and the
     * rest may never come (a link cut mid-burst). Null when the chunk did not say (unknown: no claim).
     */
    @Nullable
    private volatile Lsn heardEnd;
    /** The last time the stream knew everything its server had as stored; null while it never did. */
    @Nullable
    private volatile Instant caughtUpAt;

    /**
     * The server was seen at {@code at} with WAL flushed through {@code flushed}: kept if that is
     * past {@code stored}. When {@code merged} (the stream takes at most one sighting a tenth of a
     * second) or {@link #MAX} are kept, the newest kept that is still past {@code stored} takes the
     * end instead, keeping its earlier time: no end is left without a sighting (the lag would read
     * 0 while that WAL is unstored), its age overstated by at most the gap between the two.
     */
    void serverSeen(Lsn flushed, Instant at, @Nullable Lsn stored, boolean merged) {
        if (stored == null || !flushed.isAfter(stored)) {
            return;
        }
        Seen last = seen.peekLast();
        if ((merged || seen.size() >= MAX) && last != null && last.flushed().isAfter(stored)) {
            if (flushed.isAfter(last.flushed())) {
                seen.addLast(new Seen(flushed, last.at())); // the wider first, then the narrower goes: a report never sees neither
                seen.removeFirstOccurrence(last);
            }
            return;
        }
        if (seen.size() < MAX) {
            seen.add(new Seen(flushed, at));
        }
    }

    /** The stream connected at {@code at}, when its server had flushed through {@code flushed}. */
    void connected(Lsn flushed, Instant at) {
        atConnect = new Seen(flushed, at);
        heardEnd = flushed;
        heardAt = at;
    }

    /**
     * A chunk of WAL arrived that was not there at {@code notBefore}, sent when the server's end of
     * WAL was {@code serverEnd} (null when the chunk did not say).
     */
    void heard(Instant notBefore, @Nullable Lsn serverEnd) {
        heardEnd = serverEnd;
        heardAt = notBefore;
    }

    /**
     * The stream has everything through {@code stored} in the store, and what arrived past it since
     * {@code unstoredSince} (null when nothing did): with nothing outstanding and the server's end
     * of WAL as it last spoke stored too, everything the server had when it was last heard from is.
     */
    void settled(@Nullable Lsn stored, @Nullable Instant unstoredSince) {
        caughtUpAt = caughtUpWith(stored, unstoredSince);
    }

    /**
     * The last time the stream knows everything its server had as stored, once it has everything
     * through {@code stored} and what arrived past it since {@code unstoredSince} (null when nothing
     * did) in the store; without changing what {@link #caughtUpAt()} says (a part's row carries it
     * before the stream counts the part as stored).
     */
    @Nullable
    Instant caughtUpWith(@Nullable Lsn stored, @Nullable Instant unstoredSince) {
        Instant heard = heardAt;
        Lsn end = heardEnd;
        boolean all = heard != null && end != null && stored != null && !end.isAfter(stored);
        return all && oldestUnstored(stored, unstoredSince) == null ? heard : caughtUpAt;
    }

    /**
     * A new stream (Keel started, the receiver moved to this node) takes {@code earlier}'s answer,
     * the last time the server's earlier stream knew everything as stored, while it knows no such
     * time itself; asks it nothing otherwise.
     */
    void seed(Supplier<Optional<Instant>> earlier) {
        if (caughtUpAt == null) {
            caughtUpAt = earlier.get().orElse(null);
        }
    }

    /** The last time the stream knew everything its server had as stored; null while it never did. */
    @Nullable
    Instant caughtUpAt() {
        return caughtUpAt;
    }

    /**
     * The stream's connection ended, with everything through {@code stored} in the store. Call it
     * before the stream starts again from its slot's restart point (a segment start, often before
     * {@code stored}): judged against that, a catch-up already stored would look unfinished. One
     * that is not finished is kept as a sighting, if it is older than every one kept: a store
     * outage that makes the stream reconnect every second then keeps its first only.
     */
    void connectionEnded(@Nullable Lsn stored) {
        forgetStored(stored);
        Seen unfinished = catchingUp(stored);
        if (unfinished != null && seen.stream().allMatch(s -> s.at().isAfter(unfinished.at()))) {
            if (seen.size() >= MAX) {
                seen.stream().max(Comparator.comparing(Seen::at)).ifPresent(seen::remove);
            }
            seen.add(unfinished); // before atConnect goes: a report in between still counts it
        }
        atConnect = null;
        heardAt = null;
        heardEnd = null;
    }

    /** What the server had flushed when the stream connected, while that is past {@code stored}; else null. */
    @Nullable
    Seen catchingUp(@Nullable Lsn stored) {
        Seen connect = atConnect;
        return connect != null && stored != null && connect.flushed().isAfter(stored) ? connect : null;
    }

    /**
     * Since when WAL not in the store exists: the oldest of {@code unstoredSince} (what arrived
     * unstored), what the server was seen holding past {@code stored}, and what it had flushed when
     * the stream connected.
     */
    @Nullable
    Instant oldestUnstored(@Nullable Lsn stored, @Nullable Instant unstoredSince) {
        forgetStored(stored);
        Instant oldest = unstoredSince;
        Seen connect = catchingUp(stored);
        if (connect != null && (oldest == null || connect.at().isBefore(oldest))) {
            oldest = connect.at();
        }
        for (Seen s : seen) {
            oldest = oldest == null || s.at().isBefore(oldest) ? s.at() : oldest;
        }
        return oldest;
    }

    /** How many sightings are kept. */
    int kept() {
        return seen.size();
    }

    private void forgetStored(@Nullable Lsn stored) {
        seen.removeIf(s -> stored != null && !s.flushed().isAfter(stored));
    }
}
