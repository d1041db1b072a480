package dev.keel.databases;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The life of a database, as {@code state} in the API.
 * <pre>
 *   creating ──► available ──► deleting ──► (row removed)
 *      │  ▲                       ▲
 *      │  └─ (retry after crash)  │
 *      ├──► failed ───────────────┤
 *      └──────────────────────────┘
 * </pre>
 */
public enum DatabaseState {
    CREATING, AVAILABLE, FAILED, DELETING;

    private Set<DatabaseState> next() {
        return switch (this) {
            case CREATING -> EnumSet.of(AVAILABLE, FAILED, DELETING);
            case AVAILABLE -> EnumSet.of(DELETING);
            case FAILED -> EnumSet.of(DELETING);
            case DELETING -> EnumSet.noneOf(DatabaseState.class);
        };
    }

    public boolean canBecome(DatabaseState target) {
        return next().contains(target);
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static DatabaseState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
