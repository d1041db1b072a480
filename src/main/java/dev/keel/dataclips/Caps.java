package dev.keel.dataclips;

/**
 * What one result may hold: rows, bytes in all (the stored text of its cells), and bytes per
 * cell. A row's cells together hold at most {@link #rowBytes()}, so a wide row gets a smaller cut
 * per cell; with that bound Keel asks the server for only as many rows at a time as fit in
 * {@link #BATCH_BYTES}, and never holds more of a run in memory than that (or one row).
 */
record Caps(int rowLimit, long resultBytes, int cellBytes) {
    /** The least a row's cells may hold together, whatever the cap per cell. */
    static final int ROW_BYTES = 1 << 20;
    /** Rows Keel reads from the server at a time hold at most this much. */
    static final long BATCH_BYTES = 32L << 20;
    /** Rows Keel reads from the server at a time, at most. */
    static final int MAX_FETCH = 2000;
    /** Text of a value of a fixed-size type (int8, timestamptz, uuid, inet, ...) is at most this long. */
    static final int SMALL_CELL_BYTES = 128;

    Caps {
        if (rowLimit < 1 || resultBytes < 1 || cellBytes < 1) {
            throw new IllegalArgumentException("dataclip caps must be positive: rows " + rowLimit + ", result bytes " + resultBytes
                    + ", cell bytes " + cellBytes);
        }
    }

    int rowBytes() {
        return Math.max(ROW_BYTES, cellBytes);
    }

    /** The cut of each of {@code cappedColumns} cells of a row. */
    int cellLimit(int cappedColumns) {
        return cappedColumns == 0 ? cellBytes : Math.max(1, Math.min(cellBytes, rowBytes() / cappedColumns));
    }

    /** Rows per fetch when a row holds at most {@code rowBytes}. */
    static int fetchRows(long rowBytes) {
        return (int) Math.max(1, Math.min(MAX_FETCH, BATCH_BYTES / Math.max(1, rowBytes)));
    }
}
