package dev.keel.postgres;

/**
 * A position in the WAL, printed as Postgres prints it ({@code 16/B374D848}). Ordered; the
 * difference of two LSNs is a number of bytes.
 */
public record Lsn(long value) implements Comparable<Lsn> {
    public static final Lsn ZERO = new Lsn(0);

    public static Lsn parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 1 || slash == text.length() - 1) {
            throw new IllegalArgumentException("not an LSN: '" + text + "' (expected the form 16/B374D848)");
        }
        try {
            long high = Long.parseLong(text.substring(0, slash), 16);
            long low = Long.parseLong(text.substring(slash + 1), 16);
            if (high > 0xFFFFFFFFL || low > 0xFFFFFFFFL) {
                throw new IllegalArgumentException("not an LSN: '" + text + "' (each half is at most 8 hex digits)");
            }
            return new Lsn(high << 32 | low);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an LSN: '" + text + "' (expected the form 16/B374D848)", e);
        }
    }

    /** Bytes of WAL from {@code earlier} to this position (negative when {@code earlier} is later). */
    public long bytesSince(Lsn earlier) {
        return value - earlier.value;
    }

    @Override
    public int compareTo(Lsn other) {
        return Long.compareUnsigned(value, other.value);
    }

    public boolean isAfter(Lsn other) {
        return compareTo(other) > 0;
    }

    @Override
    public String toString() {
        return String.format("%X/%X", value >>> 32, value & 0xFFFFFFFFL);
    }
}
