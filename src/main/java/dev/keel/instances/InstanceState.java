package dev.keel.instances;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * The life of an instance. The row exists before anything on disk, so {@code creating} may mean
 * "nothing made yet" as well as "half made". A {@code pooled} instance was made ahead of demand
 * and runs without a database until a provision claims it (back to {@code creating}). A
 * {@code fenced} instance was a primary that failed over: killed, and never started again by Keel
 * (its data directory is kept for an operator until the database is deleted).
 * <pre>
 *   creating ──► running ◄──► stopped
 *    │ ▲  │         │    ╲       │
 *    │ │  └──► pooled    fenced  │
 *    │ └────────┘ │        │     │
 *    └────────────┴────────┴─┴──► deleting ──► (row removed)
 * </pre>
 */
public enum InstanceState {
    CREATING, POOLED, RUNNING, STOPPED, FENCED, DELETING;

    private Set<InstanceState> next() {
        return switch (this) {
            case CREATING -> EnumSet.of(RUNNING, POOLED, DELETING);
            case POOLED -> EnumSet.of(CREATING, DELETING);
            case RUNNING -> EnumSet.of(STOPPED, FENCED, DELETING);
            case STOPPED -> EnumSet.of(RUNNING, FENCED, DELETING);
            case FENCED -> EnumSet.of(DELETING);
            case DELETING -> EnumSet.noneOf(InstanceState.class);
        };
    }

    /** Whether a server should be running for an instance in this state. */
    public boolean serves() {
        return this == RUNNING || this == POOLED;
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
