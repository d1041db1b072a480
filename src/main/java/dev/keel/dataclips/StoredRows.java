package dev.keel.dataclips;

import java.util.List;
import java.util.UUID;

/**
 * A result's rows on their way into the catalog: collected into one chunk (at most
 * {@link #CHUNK_ROWS} rows, or {@link #CHUNK_BYTES} plus one row), which is compressed and
 * written before the next row is taken. This one chunk is the whole buffer between the server
 * and the catalog, so the memory a run takes does not grow with its result.
 */
final class StoredRows {
    static final int CHUNK_ROWS = 5000;
    static final int CHUNK_BYTES = 1 << 20;

    private final ResultRepository results;
    private final UUID resultId;
    private final RowChunks.Writer chunk = new RowChunks.Writer(CHUNK_ROWS, CHUNK_BYTES);
    private int seq;

    StoredRows(ResultRepository results, UUID resultId) {
        this.results = results;
        this.resultId = resultId;
    }

    void columns(List<String> fields, List<ColumnType> types) {
        results.columns(resultId, fields, types);
    }

    /** A row of cells (UTF-8 of Postgres' text form, null for NULL); written out once the chunk is full. */
    void add(byte[][] row) {
        chunk.add(row);
        if (chunk.full()) {
            flush();
        }
    }

    /** Writes out the rows not written yet. */
    void finish() {
        if (chunk.rows() > 0) {
            flush();
        }
    }

    private void flush() {
        int rows = chunk.rows();
        results.addChunk(resultId, seq++, rows, chunk.finish());
    }
}
