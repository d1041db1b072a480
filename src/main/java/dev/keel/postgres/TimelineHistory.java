package dev.keel.postgres;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where a server's timeline came from: its {@code current} timeline and, from the
 * {@code <timeline>.history} file, each ancestor timeline with the position where it ended (the
 * switch point: the new timeline forked from it there). Timeline 1 has no ancestors.
 */
public record TimelineHistory(TimelineId current, List<Switch> ancestors) {
    /** Timeline {@code timeline} ended at {@code end}; WAL after it on that timeline is not in this history. */
    public record Switch(TimelineId timeline, Lsn end) {
    }

    public TimelineHistory {
        ancestors = List.copyOf(ancestors);
    }

    /**
     * Parses a history file as Postgres writes it: per line, the parent timeline, its switch point
     * and a reason, separated by whitespace; blank lines and lines starting with {@code #} are skipped.
     */
    public static TimelineHistory parse(TimelineId current, String file) {
        List<Switch> ancestors = new ArrayList<>();
        for (String line : file.split("\n")) {
            String text = line.strip();
            if (text.isEmpty() || text.startsWith("#")) {
                continue;
            }
            String[] fields = text.split("\\s+", 3);
            if (fields.length < 2) {
                throw new IllegalArgumentException("not a timeline history line: " + text);
            }
            ancestors.add(new Switch(new TimelineId(Integer.parseInt(fields[0])), Lsn.parse(fields[1])));
        }
        return new TimelineHistory(current, ancestors);
    }

    /**
     * Whether WAL up to {@code position} on {@code timeline} is part of this history: on the current
     * timeline always, on an ancestor only up to where it ended. A server replayed that far can
     * still follow this timeline; one past it holds WAL this history never had (it diverged).
     */
    public boolean includes(TimelineId timeline, Lsn position) {
        if (timeline.equals(current)) {
            return true;
        }
        return end(timeline).map(end -> !position.isAfter(end)).orElse(false);
    }

    /** Where {@code timeline} ended, if it is an ancestor of the current timeline. */
    public Optional<Lsn> end(TimelineId timeline) {
        return ancestors.stream().filter(s -> s.timeline().equals(timeline)).map(Switch::end).findFirst();
    }
}
