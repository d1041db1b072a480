package dev.keel.archive;

import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What a WAL stream knows of its server's WAL beyond what it received: what the server had flushed
 * when the stream connected (until that is stored the stream is catching up), what it was seen
 * holding since, and the last time the stream knew everything the server had as stored. The stream
 * owns its stored position and passes it in; reports read from other threads.
 */
final class Sightings {
    /**
     * Sightings of the server ahead of the store kept at once. Past it the two closest in time become
     * one: a long backlog's sightings grow further apart, none of its ends is dropped.
     */
    static final int MAX = 256;
    /** How far apart the stream's chunks count as sightings of the server ({@link #chunkSeen}). */
    static final Duration CHUNK_SPACING = Duration.ofMillis(100);

    /** The server had WAL through {@code flushed} at {@code at}. */
    record Seen(Lsn flushed, Instant at) {
    }

    /**
     * What the server was seen holding, by end and by time, both rising: a sighting with as much WAL
     * no later than another's makes that one say nothing more, and it goes. Kept until the stream
     * {@link #forget forgets} them as durable, not when a stored position passes them: a stored
     * position can go back (a whole segment whose archiving failed is streamed again). Written by
     * the stream's thread and by reports ({@link #serverSeen}); guarded by this.
     */
    private final List<Seen> seen = new ArrayList<>();
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

    /** The server was seen at {@code at} (by Keel's clock) with WAL flushed through {@code flushed}: kept if that is past {@code stored}. */
    synchronized void serverSeen(Lsn flushed, Instant at, @Nullable Lsn stored) {
        if (stored != null && flushed.isAfter(stored)) {
            keep(new Seen(flushed, at));
        }
    }

    /**
     * A chunk of the stream said the server had flushed through {@code flushed} when it sent it,
     * at {@code at}: as {@link #serverSeen}, but one sighting per {@link #CHUNK_SPACING}: a chunk
     * within that after the latest kept no later than it gives that one its end, keeping its time
     * (that WAL's age overstated by less than the spacing, never understated, and no end left
     * without a sighting).
     */
    synchronized void chunkSeen(Lsn flushed, Instant at, @Nullable Lsn stored) {
        if (stored == null || !flushed.isAfter(stored)) {
            return;
        }
        // Times rise with ends: the latest no later than this chunk is the last of those.
        Seen before = null;
        for (int i = seen.size() - 1; i >= 0 && before == null; i--) {
            before = seen.get(i).at().isAfter(at) ? null : seen.get(i);
        }
        boolean within = before != null && at.isBefore(before.at().plus(CHUNK_SPACING));
        keep(within ? new Seen(flushed, before.at()) : new Seen(flushed, at)); // within: says more than that one, which goes
    }

    /** The stream has WAL through {@code durable} stored for good (it told its server so): sightings of no more go. */
    synchronized void forget(Lsn durable) {
        int stored = 0;
        while (stored < seen.size() && !seen.get(stored).flushed().isAfter(durable)) {
            stored++; // ordered by end: the stored ones are first
        }
        seen.subList(0, stored).clear();
    }

    /**
     * Moves every sighting later than {@code since} earlier by {@code by}, not before {@code since}:
     * the stream learned that its chunks' send times were that much earlier than it took them for
     * (a chunk came with less delay than any before it on the connection: those before had waited).
     * A sighting moved that was not a chunk's (a report's, at Keel's own time) is overstated by as
     * much, never understated. Those that then say no more than another go.
     */
    synchronized void earlierSince(Instant since, Duration by) {
        for (int i = 0; i < seen.size(); i++) {
            Seen s = seen.get(i);
            if (s.at().isAfter(since)) {
                Instant moved = s.at().minus(by);
                seen.set(i, new Seen(s.flushed(), moved.isBefore(since) ? since : moved));
            }
        }
        // From the largest end down, a sighting stays only when it is earlier than every one with a larger end.
        Instant earliest = null;
        for (int i = seen.size() - 1; i >= 0; i--) {
            Instant at = seen.get(i).at();
            if (earliest != null && !at.isBefore(earliest)) {
                seen.remove(i);
            } else {
                earliest = at;
            }
        }
    }

    /** Keeps {@code sighting} unless one kept says as much; drops those it says more than; then keeps to {@link #MAX}. */
    private void keep(Seen sighting) {
        for (Seen kept : seen) {
            if (!sighting.flushed().isAfter(kept.flushed()) && !kept.at().isAfter(sighting.at())) {
                return;
            }
        }
        seen.removeIf(kept -> !kept.flushed().isAfter(sighting.flushed()) && !kept.at().isBefore(sighting.at()));
        int at = 0;
        while (at < seen.size() && sighting.flushed().isAfter(seen.get(at).flushed())) {
            at++;
        }
        seen.add(at, sighting);
        if (seen.size() > MAX) {
            coarsen();
        }
    }

    /**
     * Makes the two sightings closest in time one: the later's end at the earlier's time. The WAL
     * between their ends counts as older than it is, by at most their gap; none counts as younger.
     */
    private void coarsen() {
        int closest = 0;
        Duration least = null;
        for (int i = 0; i + 1 < seen.size(); i++) {
            Duration gap = Duration.between(seen.get(i).at(), seen.get(i + 1).at());
            if (least == null || gap.compareTo(least) < 0) {
                least = gap;
                closest = i;
            }
        }
        seen.set(closest, new Seen(seen.get(closest + 1).flushed(), seen.get(closest).at()));
        seen.remove(closest + 1);
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
     * that is not finished is kept as a sighting.
     */
    synchronized void connectionEnded(@Nullable Lsn stored) {
        Seen unfinished = catchingUp(stored);
        if (unfinished != null) {
            keep(unfinished); // before atConnect goes: a report in between still counts it
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
    synchronized Instant oldestUnstored(@Nullable Lsn stored, @Nullable Instant unstoredSince) {
        Instant oldest = unstoredSince;
        Seen connect = catchingUp(stored);
        if (connect != null && (oldest == null || connect.at().isBefore(oldest))) {
            oldest = connect.at();
        }
        for (Seen s : seen) {
            if (stored == null || s.flushed().isAfter(stored)) {
                oldest = oldest == null || s.at().isBefore(oldest) ? s.at() : oldest;
            }
        }
        return oldest;
    }

    /** How many sightings are kept. */
    synchronized int kept() {
        return seen.size();
    }
}
