package dev.keel.lifecycle;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * <pre>
 *   prepared ──► running ──► completed
 *      │            └──────► failed     (before the switch: the database is as it was)
 *      └──► canceled
 * </pre>
 * A dry run goes from running to completed or failed on its copy; the database itself never changes.
 */
public enum UpgradeState {
    PREPARED, RUNNING, COMPLETED, FAILED, CANCELED;

    private Set<UpgradeState> next() {
        return switch (this) {
            case PREPARED -> EnumSet.of(RUNNING, CANCELED);
            case RUNNING -> EnumSet.of(COMPLETED, FAILED);
            default -> EnumSet.noneOf(UpgradeState.class);
        };
    }

    public boolean canBecome(UpgradeState target) {
        return next().contains(target);
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static UpgradeState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
