package dev.keel.archfixtures.catalog;

import dev.keel.archfixtures.credentials.Passwords;

/** One side of the cycle catalog -> credentials -> catalog. */
public final class Catalog {
    public static String password() {
        return Passwords.random();
    }
}
