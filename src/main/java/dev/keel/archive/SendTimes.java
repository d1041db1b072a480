package dev.keel.archive;

import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;

/**
 * A replication connection's chunks as sightings of their server ({@link Sightings}): each says
 * the server's end of WAL and when the server sent it, by the server's clock. WAL through that end
 * existed then, however long the chunk waited in the connection (a store that hung, a catch-up that
 * reads a backlog), so it counts as that old, not from when it arrives. The send time is moved by
 * the least delay any chunk of the connection had: that is the least transit plus how far the
 * server's clock is behind Keel's (less how far it is ahead), so a server clock behind would
 * otherwise make every chunk look that much older, and one ahead every chunk that waited look
 * fresher. The least delay falls as prompter chunks come: those sighted before were sent that much
 * earlier than they were taken for (a connection's first chunks may wait while the stream clears a
 * segment's parts), and their sightings move with it.
 */
final class SendTimes {
    private final Instant connected;
    /** The least time, in milliseconds, between a chunk's send time by the server's clock and its arrival by Keel's. */
    private long leastDelayMillis = Long.MAX_VALUE;

    /** For a connection made at {@code connected}: no sighting is earlier. */
    SendTimes(Instant connected) {
        this.connected = connected;
    }

    /** A chunk sent at {@code sentAt} (the server's clock), when the server's end of WAL was {@code serverEnd}, arrived at {@code arrived}. */
    void chunk(Lsn serverEnd, Instant sentAt, Instant arrived, Sightings sightings, @Nullable Lsn stored) {
        long delay = Duration.between(sentAt, arrived).toMillis();
        if (delay < leastDelayMillis) {
            if (leastDelayMillis != Long.MAX_VALUE) {
                sightings.earlierSince(connected, Duration.ofMillis(leastDelayMillis - delay));
            }
            leastDelayMillis = delay;
        }
        sightings.chunkSeen(serverEnd, sighted(sentAt, leastDelayMillis, arrived, connected), stored);
    }

    /** When a chunk sent at {@code sentAt} counts as seen: moved by the least delay, then held between the connection and the arrival. */
    static Instant sighted(Instant sentAt, long leastDelayMillis, Instant arrived, Instant connectedAt) {
        Instant sent = sentAt.plusMillis(leastDelayMillis);
        return sent.isAfter(arrived) ? arrived : sent.isBefore(connectedAt) ? connectedAt : sent;
    }
}
