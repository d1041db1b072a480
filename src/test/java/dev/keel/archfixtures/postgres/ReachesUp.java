package dev.keel.archfixtures.postgres;

import dev.keel.archfixtures.databases.Thing;

/** A foundation class that depends on a capability above it. */
public final class ReachesUp {
    Thing thing() {
        return new Thing();
    }
}
