package dev.keel.restore;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A rollback's {@code to} (RFC 3339 with an offset) and {@code by} ("2 hours 10 minutes", or ISO 8601 "PT2H10M"). */
final class TargetTimes {
    /** Longer than any rollback window: a longer span is surely a mistake, and would not fit an instant either. */
    private static final Duration LONGEST = Duration.ofDays(3660);
    private static final Pattern PART = Pattern.compile("\\s*(\\d+)\\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)\\s*,?\\s*(and\\s+)?",
            Pattern.CASE_INSENSITIVE);

    private TargetTimes() {
    }

    /** {@code to} as an instant; RFC 3339 allows a space or a lower-case t between date and time. */
    static Instant parseTo(String to) {
        String text = to.strip();
        try {
            return OffsetDateTime.parse(text.replace(' ', 'T').toUpperCase(Locale.ROOT), DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        } catch (DateTimeParseException e) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"to\" is '" + to + "', which is not an RFC 3339 time with an offset;"
                    + " write it like 2026-11-26T10:15:42Z or 2026-11-26T11:15:42+01:00.");
        }
    }

    /** {@code by} as a duration: a sum of parts such as "3 days 7 hours 22 minutes", or ISO 8601. */
    static Duration parseBy(String by) {
        String text = by.strip();
        if (text.toUpperCase(Locale.ROOT).startsWith("P")) {
            try {
                return positive(by, Duration.parse(text.toUpperCase(Locale.ROOT)));
            } catch (DateTimeParseException e) {
                throw invalidBy(by);
            }
        }
        Matcher m = PART.matcher(text);
        Duration total = Duration.ZERO;
        int end = 0;
        while (m.lookingAt()) {
            // More digits than a span of ten years has seconds cannot be meant; they would overflow below.
            if (m.group(1).length() > 9) {
                throw tooLong(by);
            }
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2).toLowerCase(Locale.ROOT);
            Duration part = switch (unit.charAt(0)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                case 'd' -> Duration.ofDays(n);
                default -> Duration.ofDays(7 * n);
            };
            total = total.plus(part);
            if (total.compareTo(LONGEST) > 0) {
                throw tooLong(by);
            }
            end = m.end();
            m.region(end, text.length());
        }
        if (end != text.length() || end == 0) {
            throw invalidBy(by);
        }
        return positive(by, total);
    }

    private static Duration positive(String by, Duration duration) {
        if (duration.isZero() || duration.isNegative()) {
            throw invalidBy(by);
        }
        if (duration.compareTo(LONGEST) > 0) {
            throw tooLong(by);
        }
        return duration;
    }

    private static KeelException tooLong(String by) {
        return new KeelException(ProblemType.INVALID_REQUEST, "\"by\" is '" + by + "', longer than any rollback window (at most "
                + LONGEST.toDays() + " days); ask for a span inside the source's window, which GET /v1/databases/{id}/archive shows.");
    }

    private static KeelException invalidBy(String by) {
        return new KeelException(ProblemType.INVALID_REQUEST, "\"by\" is '" + by + "', which is not a time span; write it like"
                + " \"2 hours 10 minutes\", \"3 days 7 hours\" or \"PT2H10M\".");
    }
}
