package dev.keel.archfixtures.replication;

import dev.keel.archfixtures.restore.Restore;

/** The other side of the cycle restore -> replication -> restore. */
public final class Standby {
    public static void build() {
    }

    static void rebuild() {
        Restore.run();
    }
}
