package dev.keel.postgres;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A file Postgres hands to {@code archive_command}: a segment, a timeline's history
 * ({@code 00000002.history}), the old timeline's last segment after a promotion
 * ({@code <segment>.partial}), or a backup history file ({@code <segment>.00000028.backup}).
 */
public record WalFileName(String name, Kind kind, TimelineId timeline, Optional<WalSegmentName> segment) {
    public enum Kind {
        SEGMENT, HISTORY, PARTIAL, BACKUP_HISTORY
    }

    private static final Pattern HISTORY = Pattern.compile("([0-9A-F]{8})\\.history");
    private static final Pattern PARTIAL = Pattern.compile("([0-9A-F]{24})\\.partial");
    private static final Pattern BACKUP = Pattern.compile("([0-9A-F]{24})\\.[0-9A-F]{8}\\.backup");

    /** The file named {@code name}, or empty when it is nothing Postgres archives. */
    public static Optional<WalFileName> parse(String name) {
        if (WalSegmentName.isSegmentName(name)) {
            WalSegmentName segment = WalSegmentName.parse(name);
            return Optional.of(new WalFileName(name, Kind.SEGMENT, segment.timeline(), Optional.of(segment)));
        }
        Matcher m;
        if ((m = HISTORY.matcher(name)).matches()) {
            return Optional.of(new WalFileName(name, Kind.HISTORY, TimelineId.parseHex(m.group(1)), Optional.empty()));
        }
        if ((m = PARTIAL.matcher(name)).matches() || (m = BACKUP.matcher(name)).matches()) {
            WalSegmentName segment = WalSegmentName.parse(m.group(1));
            Kind kind = name.endsWith(".partial") ? Kind.PARTIAL : Kind.BACKUP_HISTORY;
            return Optional.of(new WalFileName(name, kind, segment.timeline(), Optional.of(segment)));
        }
        return Optional.empty();
    }
}
