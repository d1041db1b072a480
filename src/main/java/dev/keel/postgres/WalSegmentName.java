package dev.keel.postgres;

import java.util.regex.Pattern;

/**
 * A 16 MiB WAL segment of a timeline, named as in {@code pg_wal}: timeline, then the segment
 * number's high and low parts, 8 hex digits each ({@code 000000010000000A000000FF}). Keel's
 * clusters use the default 16 MiB segment size.
 */
public record WalSegmentName(TimelineId timeline, long number) implements Comparable<WalSegmentName> {
    public static final long SEGMENT_BYTES = 16L * 1024 * 1024;
    private static final long SEGMENTS_PER_ID = 0x1_0000_0000L / SEGMENT_BYTES;
    private static final Pattern NAME = Pattern.compile("[0-9A-F]{24}");

    public static boolean isSegmentName(String name) {
        return NAME.matcher(name).matches();
    }

    public static WalSegmentName parse(String name) {
        if (!isSegmentName(name)) {
            throw new IllegalArgumentException("not a WAL segment name: '" + name + "'");
        }
        long high = Long.parseLong(name.substring(8, 16), 16);
        long low = Long.parseLong(name.substring(16, 24), 16);
        if (low >= SEGMENTS_PER_ID) {
            throw new IllegalArgumentException("not a 16 MiB WAL segment name: '" + name + "'");
        }
        return new WalSegmentName(TimelineId.parseHex(name.substring(0, 8)), high * SEGMENTS_PER_ID + low);
    }

    /** The segment of {@code timeline} that holds the WAL byte at {@code lsn}. */
    public static WalSegmentName containing(TimelineId timeline, Lsn lsn) {
        return new WalSegmentName(timeline, Long.divideUnsigned(lsn.value(), SEGMENT_BYTES));
    }

    public Lsn startLsn() {
        return new Lsn(number * SEGMENT_BYTES);
    }

    /** The LSN just past this segment's last byte. */
    public Lsn endLsn() {
        return new Lsn((number + 1) * SEGMENT_BYTES);
    }

    public WalSegmentName next() {
        return new WalSegmentName(timeline, number + 1);
    }

    @Override
    public int compareTo(WalSegmentName other) {
        int byTimeline = timeline.compareTo(other.timeline);
        return byTimeline != 0 ? byTimeline : Long.compare(number, other.number);
    }

    @Override
    public String toString() {
        return timeline.hex() + String.format("%08X%08X", number / SEGMENTS_PER_ID, number % SEGMENTS_PER_ID);
    }
}
