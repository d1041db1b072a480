package dev.keel.archfixtures.restore;

import dev.keel.archfixtures.replication.Standby;

/** One side of a second cycle, restore -> replication -> restore. */
public final class Restore {
    public static void run() {
        Standby.build();
    }
}
