package dev.keel.dataclips;

import com.github.luben.zstd.Zstd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * How a chunk of result rows is stored: per cell a 4-byte length (-1 for NULL) and the UTF-8 of
 * Postgres' text form, the whole zstd-compressed. Decoding yields rows of strings (null for NULL).
 */
final class RowChunks {
    private static final int LEVEL = 1;

    private RowChunks() {
    }

    /** Collects rows until {@link #full()}; then {@link #finish()} gives the stored bytes. */
    static final class Writer {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 * 1024);
        private final int maxRows;
        private final int maxBytes;
        private int rows;

        Writer(int maxRows, int maxBytes) {
            this.maxRows = maxRows;
            this.maxBytes = maxBytes;
        }

        void add(String[] row) {
            for (String cell : row) {
                if (cell == null) {
                    writeInt(-1);
                } else {
                    byte[] utf8 = cell.getBytes(StandardCharsets.UTF_8);
                    writeInt(utf8.length);
                    bytes.write(utf8, 0, utf8.length);
                }
            }
            rows++;
        }

        boolean full() {
            return rows >= maxRows || bytes.size() >= maxBytes;
        }

        int rows() {
            return rows;
        }

        byte[] finish() {
            byte[] compressed = Zstd.compress(bytes.toByteArray(), LEVEL);
            bytes.reset();
            rows = 0;
            return compressed;
        }

        private void writeInt(int v) {
            bytes.write(v >>> 24);
            bytes.write(v >>> 16);
            bytes.write(v >>> 8);
            bytes.write(v);
        }
    }

    static List<String[]> decode(byte[] stored, int columns) {
        byte[] raw = Zstd.decompress(stored, (int) Zstd.getFrameContentSize(stored));
        ByteBuffer in = ByteBuffer.wrap(raw);
        List<String[]> rows = new ArrayList<>();
        while (in.hasRemaining()) {
            String[] row = new String[columns];
            for (int c = 0; c < columns; c++) {
                int length = in.getInt();
                if (length >= 0) {
                    row[c] = new String(raw, in.position(), length, StandardCharsets.UTF_8);
                    in.position(in.position() + length);
                }
            }
            rows.add(row);
        }
        return rows;
    }
}
