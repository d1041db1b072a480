package dev.keel.herokuapi;

import io.micronaut.core.annotation.Nullable;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Times as Heroku users write them for {@code --to} ("2026-11-20 10:00+00", "2026-11-20 10:00:00 UTC"), as RFC 3339. */
final class HerokuTimes {
    private static final Pattern LOOSE = Pattern.compile(
            "(\\d{4}-\\d{2}-\\d{2})[ T](\\d{2}:\\d{2})(:\\d{2}(?:\\.\\d+)?)?\\s*(Z|UTC|[+-]\\d{2}(?::?\\d{2})?)?");

    private HerokuTimes() {
    }

    /** {@code text} in RFC 3339 when it is one of the loose forms (no zone: UTC); otherwise as given, for the API to judge. */
    @Nullable
    static String rfc3339(@Nullable String text) {
        if (text == null) {
            return null;
        }
        Matcher m = LOOSE.matcher(text.strip());
        if (!m.matches()) {
            return text;
        }
        String seconds = m.group(3) == null ? ":00" : m.group(3);
        String zone = m.group(4) == null || m.group(4).equals("UTC") ? "Z" : m.group(4);
        if (zone.length() == 3) {
            zone = zone + ":00";
        } else if (zone.length() == 5) {
            zone = zone.substring(0, 3) + ":" + zone.substring(3);
        }
        return m.group(1) + "T" + m.group(2) + seconds + zone;
    }
}
