package dev.keel.operations;

import java.util.Locale;

/** The kinds of long work; each has one {@link OperationHandler}. */
public enum OperationKind {
    PROVISION, DEPROVISION, BACKUP, RESTORE, UNFOLLOW, STANDBY, FAILOVER, RESTART, PLAN_CHANGE, LOGICAL_BACKUP, LOGICAL_RESTORE, UPGRADE;

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static OperationKind of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
