package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.Locale;
import java.util.UUID;

/**
 * Where a database made from another one came from, fixed when it was asked for: the source,
 * the base backup the restore starts from, and how far it replays — to {@code targetTime}
 * (rollback), through {@code throughSegment} (fork as of the request), or only to the backup's
 * consistent point ({@code fast} fork), or to the end of the archive and on by streaming (a
 * follower, whose {@code throughSegment} is the last segment its leader's slot does not keep).
 */
public record DatabaseOrigin(Kind kind, UUID sourceId, String sourceName, UUID backupId, Instant backupFinishedAt,
                             @Nullable Instant targetTime, @Nullable String throughSegment, boolean fast) {
    public enum Kind {
        FORK, ROLLBACK, FOLLOW;

        public String value() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Kind of(String value) {
            return valueOf(value.toUpperCase(Locale.ROOT));
        }
    }

    /** The sentence {@code info} and the API show, e.g. "Rolled back from postgresql-x to 2026-11-26T10:15:42Z". */
    public String describe() {
        return switch (kind) {
            case ROLLBACK -> "Rolled back from " + sourceName + " to " + targetTime;
            case FOLLOW -> "Made as a follower of " + sourceName;
            case FORK -> fast ? "Forked from " + sourceName + " as of its base backup of " + backupFinishedAt
                    : "Forked from " + sourceName;
        };
    }
}
