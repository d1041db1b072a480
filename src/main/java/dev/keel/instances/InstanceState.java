package dev.keel.instances;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The life of an instance. The row exists before anything on disk, so {@code creating} may mean
 * "nothing made yet" as well as "half made".
 * <pre>
 *   creating ──► running ◄──► stopped
 *      │            │            │
 *      └────────────┴─────► deleting ──► (row removed)
 * </pre>
 */
public enum InstanceState {
    CREATING, RUNNING, STOPPED, DELETING;

    private Set<InstanceState> next() {
        return switch (this) {
            case CREATING -> EnumSet.of(RUNNING, DELETING);
            case RUNNING -> EnumSet.of(STOPPED, DELETING);
            case STOPPED -> EnumSet.of(RUNNING, DELETING);
            case DELETING -> EnumSet.noneOf(InstanceState.class);
        };
    }

    public boolean canBecome(InstanceState target) {
        return next().contains(target);
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static InstanceState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
