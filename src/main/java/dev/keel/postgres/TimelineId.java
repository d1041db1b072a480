package dev.keel.postgres;

/** A WAL timeline: 1 for a new cluster, one more after each promotion. Printed as 8 hex digits in file names. */
public record TimelineId(int value) implements Comparable<TimelineId> {
    public TimelineId {
        if (value < 1) {
            throw new IllegalArgumentException("a timeline is 1 or more, not " + value);
        }
    }

    public static TimelineId parseHex(String eightHexDigits) {
        return new TimelineId(Integer.parseUnsignedInt(eightHexDigits, 16));
    }

    public String hex() {
        return String.format("%08X", value);
    }

    @Override
    public int compareTo(TimelineId other) {
        return Integer.compareUnsigned(value, other.value);
    }

    @Override
    public String toString() {
        return Integer.toString(value);
    }
}
