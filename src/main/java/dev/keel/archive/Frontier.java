package dev.keel.archive;

import dev.keel.archive.Sightings.Seen;
import dev.keel.postgres.Lsn;
import io.micronaut.core.annotation.Nullable;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Sightings of a server ({@link Sightings}) by end and by time, both rising: a sighting with as
 * much WAL no later than another's makes that one say nothing more, and it goes. Past
 * {@link Sightings#MAX} the two closest in time become one, the later's end at the earlier's time:
 * the WAL between their ends counts as older than it is, by at most their gap, none as younger, and
 * no end is dropped. Not thread-safe: {@link Sightings} holds its lock.
 */
final class Frontier {
    private final List<Seen> seen = new ArrayList<>();

    /** Keeps {@code sighting} unless one kept says as much; drops those it says more than; then keeps to the bound. */
    void keep(Seen sighting) {
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
        if (seen.size() > Sightings.MAX) {
            coarsen();
        }
    }

    /** The latest sighting no later than {@code at}, if any: times rise with ends, so the last of those. */
    @Nullable
    Seen latestBy(Instant at) {
        for (int i = seen.size() - 1; i >= 0; i--) {
            if (!seen.get(i).at().isAfter(at)) {
                return seen.get(i);
            }
        }
        return null;
    }

    /** The earliest time of a sighting past {@code stored} (any, with null), or null. */
    @Nullable
    Instant oldestPast(@Nullable Lsn stored) {
        for (Seen s : seen) {
            if (stored == null || s.flushed().isAfter(stored)) {
                return s.at(); // ordered by end and time: the first past it is the earliest
            }
        }
        return null;
    }

    /** Sightings of no more than {@code through} go. */
    void forget(Lsn through) {
        seen.subList(0, noMoreThan(through)).clear();
    }

    /**
     * The sightings of no more than {@code through} become one: the largest end at the earliest
     * time. Only a stream that goes back before {@code through} reads it again.
     */
    void fold(Lsn through) {
        int stored = noMoreThan(through);
        if (stored > 1) {
            Seen folded = new Seen(seen.get(stored - 1).flushed(), seen.get(0).at());
            seen.subList(1, stored).clear();
            seen.set(0, folded);
        }
    }

    /** Moves every sighting later than {@code since} earlier by {@code by}, not before {@code since}; those that then say no more go. */
    void earlierSince(Instant since, Duration by) {
        for (int i = 0; i < seen.size(); i++) {
            Seen s = seen.get(i);
            if (s.at().isAfter(since)) {
                Instant moved = s.at().minus(by);
                seen.set(i, new Seen(s.flushed(), moved.isBefore(since) ? since : moved));
            }
        }
        // The same move keeps their order but for those held at since: of those, the one with the largest end stays.
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

    int size() {
        return seen.size();
    }

    /** How many sightings are of no more than {@code through}: ordered by end, they are the first. */
    private int noMoreThan(Lsn through) {
        int count = 0;
        while (count < seen.size() && !seen.get(count).flushed().isAfter(through)) {
            count++;
        }
        return count;
    }

    private void coarsen() {
        int closest = 0;
        long least = Long.MAX_VALUE;
        for (int i = 0; i + 1 < seen.size(); i++) {
            long gap = Duration.between(seen.get(i).at(), seen.get(i + 1).at()).toNanos();
            if (gap < least) {
                least = gap;
                closest = i;
            }
        }
        seen.set(closest, new Seen(seen.get(closest + 1).flushed(), seen.get(closest).at()));
        seen.remove(closest + 1);
    }
}
