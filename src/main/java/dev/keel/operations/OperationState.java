package dev.keel.operations;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * <pre>
 *   running ──► succeeded
 *      └──────► failed
 * </pre>
 * An operation found {@code running} when Keel starts was interrupted by a stop or crash; the
 * {@link Reconciler} decides its fate.
 */
public enum OperationState {
    RUNNING, SUCCEEDED, FAILED;

    public boolean canBecome(OperationState target) {
        Set<OperationState> next = this == RUNNING ? EnumSet.of(SUCCEEDED, FAILED) : EnumSet.noneOf(OperationState.class);
        return next.contains(target);
    }

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static OperationState of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
