package dev.keel.http;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;

/**
 * A boolean query parameter, such as {@code ?unfollow_followers=true}: absent, {@code true} or
 * {@code false}. Micronaut would read any other word as false, and a typo must not pick the
 * destructive or the safe branch by accident.
 */
public final class QueryFlag {
    private QueryFlag() {
    }

    public static boolean parse(String name, @Nullable String value) {
        if (value == null || value.equals("false")) {
            return false;
        }
        if (value.equals("true")) {
            return true;
        }
        throw new KeelException(ProblemType.BAD_REQUEST, "?" + name + " is true or false; leave it out for false.");
    }
}
