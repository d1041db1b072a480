package dev.keel.logs;

import dev.keel.StartupException;
import dev.keel.postgres.Durations;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Value;

import java.time.Duration;

/**
 * How long a log follow stream lasts ({@code keel.logs.follow-for}), read as Keel starts, so that a
 * setting it cannot use stops the start rather than the first follow.
 */
@Context
final class LogFollowing {
    private final Duration followFor;

    LogFollowing(@Value("${keel.logs.follow-for:1h}") String followFor) {
        this.followFor = Durations.parse("KEEL_LOGS_FOLLOW_FOR", followFor);
        if (this.followFor.toSeconds() < 1) {
            throw new StartupException("KEEL_LOGS_FOLLOW_FOR (" + followFor + ") must be at least 1s: a follow stream ends after it");
        }
    }

    Duration followFor() {
        return followFor;
    }
}
