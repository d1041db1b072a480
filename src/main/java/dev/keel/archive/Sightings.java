package dev.keel.archive;

import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;
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
     * Sightings of the server ahead of the store kept at once, of each kind ({@link Frontier}). Past
     * it the two closest in time become one: a long backlog's sightings grow further apart, none of
     * its ends is dropped.
     */
    static final int MAX = 256;
    /** How far apart the stream's chunks count as sightings of the server ({@link #chunkSeen}). */
    static final Duration CHUNK_SPACING = Duration.ofMillis(100);

    /** The server had WAL through {@code flushed} at {@code at}. */
    record Seen(Lsn flushed, Instant at) {
    }

    /**
     * What the stream's chunks said the server held, by the server's send times moved to Keel's
     * clock ({@link SendTimes}), which move earlier as the stream learns more ({@link #earlierSince}),
     * and what Keel saw itself (a report's look at the server, a connection's catch-up not finished),
     * which does not move. Kept until the stream {@link #forget forgets} them as durable, not when a
     * stored position passes them: a stored position can go back (a segment whose archiving failed
     * is streamed again). Written by the stream's thread and by reports ({@link #serverSeen}):
     * guarded by this.
     */
    private final Frontier chunks = new Frontier();
    private final Frontier looks = new Frontier();
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
            looks.keep(new Seen(flushed, at));
        }
    }

    /**
     * A chunk of the stream said the server had flushed through {@code flushed} when it sent it,
     * at {@code at}: as {@link #serverSeen}, but one sighting per {@link #CHUNK_SPACING}: a chunk
     * within that after the latest chunk's sighting no later than it gives that one its end, keeping
     * its time (that WAL's age overstated by less than the spacing, never understated, and no end
     * left without a sighting).
     */
    synchronized void chunkSeen(Lsn flushed, Instant at, @Nullable Lsn stored) {
        if (stored == null || !flushed.isAfter(stored)) {
            return;
        }
        Seen before = chunks.latestBy(at);
        boolean within = before != null && at.isBefore(before.at().plus(CHUNK_SPACING));
        chunks.keep(new Seen(flushed, within ? before.at() : at)); // within: says more than that one, which goes
    }

    /**
     * The stream has WAL through {@code durable} stored for good (it told its server so), and will
     * never go back before {@code segmentStart}, the start of its segment (it goes back to a
     * segment's start when that segment's whole copy could not be archived, and clears its parts):
     * sightings of no more than the one go, and those of no more than the other become one, kept for
     * such a return, which would otherwise count that WAL from its new connection.
     */
    synchronized void forget(Lsn segmentStart, Lsn durable) {
        for (Frontier frontier : new Frontier[] {chunks, looks}) {
            frontier.forget(segmentStart);
            frontier.fold(durable);
        }
    }

    /**
     * Moves every chunk's sighting later than {@code since} earlier by {@code by}, not before
     * {@code since}: the stream learned that its chunks' send times were that much earlier than it
     * took them for (a chunk came with less delay than any before it on the connection: those before
     * had waited). Sightings by Keel's own clock stay.
     */
    synchronized void earlierSince(Instant since, Duration by) {
        chunks.earlierSince(since, by);
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
            looks.keep(unfinished); // before atConnect goes: a report in between still counts it
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
        for (Instant seen : new Instant[] {chunks.oldestPast(stored), looks.oldestPast(stored)}) {
            if (seen != null && (oldest == null || seen.isBefore(oldest))) {
                oldest = seen;
            }
        }
        return oldest;
    }

    /** How many sightings are kept. */
    synchronized int kept() {
        return chunks.size() + looks.size();
    }
}
