package dev.keel;

import java.util.Optional;
import java.util.UUID;

/** Parsing ids from paths: a malformed id names nothing, so callers answer 404 rather than 400. */
public final class Ids {
    private Ids() {
    }

    public static Optional<UUID> parse(String text) {
        try {
            return text.length() == 36 ? Optional.of(UUID.fromString(text)) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
