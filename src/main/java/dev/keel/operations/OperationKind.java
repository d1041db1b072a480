package dev.keel.operations;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The kinds of long work; each has one {@link OperationHandler}. */
public enum OperationKind {
    PROVISION, DEPROVISION, BACKUP, RESTORE, UNFOLLOW, STANDBY, FAILOVER, RESTART, PLAN_CHANGE, LOGICAL_BACKUP, LOGICAL_RESTORE, UPGRADE,
    /**
     * A follower rebuilt from its leader's archive (its slot was lost, it diverged from its leader's
     * new timeline, or its leader was upgraded to a new major).
     */
    REBUILD,
    /** A database's stored settings and rules applied to its server, on the node hosting it, for a request asked of another. */
    RECONFIGURE,
    /** A database's servers that another node retired in the catalog (state deleting), removed by the node hosting them. */
    DISCARD,
    /** A primary whose node an operator forgot, made anew on another node from its database's own archive. */
    REMAKE;

    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    static OperationKind of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }

    /**
     * Every kind's value: a row of another kind was recorded by a newer Keel (during a rolling
     * upgrade, or before a node was rolled back), which this version neither runs nor maps.
     */
    public static List<String> known() {
        return Arrays.stream(values()).map(OperationKind::value).toList();
    }
}
