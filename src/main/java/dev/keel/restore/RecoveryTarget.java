package dev.keel.restore;

import dev.keel.postgres.WalSegmentName;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How far a restore replays before it promotes: to a time (rollback), to the backup's
 * consistent point (fast fork), or to the end of the source's archive through a segment known to
 * hold its last write (fork), or on and on as a standby streaming from its upstream (follower).
 */
sealed interface RecoveryTarget {
    DateTimeFormatter POSTGRES_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSx").withZone(ZoneOffset.UTC);

    /** Commits at or before {@code at} are kept, later ones are not. */
    record Time(Instant at) implements RecoveryTarget {
    }

    /** Only as far as the base backup needs to be consistent. */
    record Immediate() implements RecoveryTarget {
    }

    /** Every archived segment through {@code through}, waited for if the source has not archived it yet. */
    record EndOfArchive(WalSegmentName through) implements RecoveryTarget {
    }

    /**
     * Every archived segment through {@code through} (waited for: the upstream's slot keeps only
     * what comes after it), then whatever else is archived, then streaming; it never promotes.
     */
    record Follow(WalSegmentName through) implements RecoveryTarget {
    }

    /** Whether recovery ends in a standby that keeps following rather than a promoted primary. */
    default boolean follows() {
        return this instanceof Follow;
    }

    /** The segment through which the archive is waited for, if any. */
    default WalSegmentName waitThrough() {
        return this instanceof EndOfArchive end ? end.through() : this instanceof Follow follow ? follow.through() : null;
    }

    /** The recovery settings of this target, promoting at the end unless it follows (single words: they go on the server's command line). */
    default Map<String, String> settings() {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("recovery_target_timeline", "latest");
        if (follows()) {
            return settings;
        }
        settings.put("recovery_target_action", "promote");
        if (this instanceof Time time) {
            // With an explicit +00: the server's time zone must not matter.
            settings.put("recovery_target_time", POSTGRES_TIME.format(time.at()));
            settings.put("recovery_target_inclusive", "on");
        } else if (this instanceof Immediate) {
            settings.put("recovery_target", "immediate");
        }
        return settings;
    }
}
