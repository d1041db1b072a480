package dev.keel.archfixtures;

import dev.keel.archfixtures.databases.Thing;

/** A root utility (like Keel's FileTrees or Ids) that depends on a capability. */
public final class RootUtility {
    Thing thing() {
        return new Thing();
    }
}
