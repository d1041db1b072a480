package dev.keel.archfixtures.credentials;

import dev.keel.archfixtures.catalog.Catalog;

/** The other side of the cycle catalog -> credentials -> catalog. */
public final class Passwords {
    public static String random() {
        return "x";
    }

    static String again() {
        return Catalog.password();
    }
}
