package dev.keel.postgres;

import dev.keel.StartupException;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as operators write them in settings: {@code 60} (seconds), {@code 60s}, {@code 5min}, {@code 2h}, {@code 500ms}. */
public final class Durations {
    private static final Pattern FORM = Pattern.compile("(\\d+)\\s*(ms|s|min|m|h|d)?");

    private Durations() {
    }

    public static Duration parse(String setting, String text) {
        Matcher m = FORM.matcher(text.strip());
        if (!m.matches()) {
            throw new StartupException(setting + " is a duration such as 60, 60s, 5min or 2h, not '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "min", "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }
}
