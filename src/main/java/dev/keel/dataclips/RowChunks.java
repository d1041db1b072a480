package dev.keel.dataclips;

import com.github.luben.zstd.Zstd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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

        /** A row of cells, each the UTF-8 of Postgres' text form, or null for NULL. */
        void add(byte[][] row) {
            for (byte[] cell : row) {
                if (cell == null) {
                    writeInt(-1);
                } else {
                    writeInt(cell.length);
                    bytes.write(cell, 0, cell.length);
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

    /** One row of texts (none NULL) encoded as {@link #decompress} gives a chunk's rows. */
    static byte[] row(List<String> cells) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String cell : cells) {
            byte[] text = cell.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(4).putInt(text.length).array());
            out.writeBytes(text);
        }
        return out.toByteArray();
    }

    /** The rows' encoded cells, as stored before compression. */
    static byte[] decompress(byte[] stored) {
        return Zstd.decompress(stored, (int) Zstd.getFrameContentSize(stored));
    }

    /**
     * Appends the rows of a decompressed chunk to {@code out} as RFC 4180 CSV, byte for byte:
     * a cell holding a byte that {@link #needsQuotes} is quoted with its quotes doubled (those bytes
     * never occur inside a multi-byte UTF-8 character, so the text needs no decoding); NULL is empty.
     * A cell that {@link #formulaLike begins like a formula} gets a leading {@code '}, as OWASP
     * advises, so that a spreadsheet opening the file shows it and does not run it: every such cell
     * of a {@code freeText} column, and of the other columns every such cell but one whose whole text
     * is a {@link #plainNumber plain number} ({@code -5}, {@code -1.5e3}), which a spreadsheet reads
     * as that number. A column's type does not make its text safe: an owner may set
     * {@code bytea_output} or {@code DateStyle}, or a clip call {@code set_config}, and a cast to text
     * of such a type then gives text of the owner's choosing ({@code =HYPERLINK(...)} as an escaped
     * {@code bytea}).
     */
    static void csv(byte[] raw, boolean[] freeText, Bytes out) {
        int columns = freeText.length;
        int p = 0;
        while (p < raw.length) {
            for (int c = 0; c < columns; c++) {
                int length = (raw[p] & 0xff) << 24 | (raw[p + 1] & 0xff) << 16 | (raw[p + 2] & 0xff) << 8 | (raw[p + 3] & 0xff);
                p += 4;
                if (c > 0) {
                    out.add((byte) ',');
                }
                if (length > 0) {
                    int end = p + length;
                    boolean quote = false;
                    for (int i = p; i < end && !quote; i++) {
                        quote = needsQuotes(raw[i]);
                    }
                    boolean neutralise = formulaLike(raw[p]) && (freeText[c] || !plainNumber(raw, p, end));
                    if (quote) {
                        out.add((byte) '"');
                        if (neutralise) {
                            out.add((byte) '\'');
                        }
                        for (int i = p; i < end; i++) {
                            if (raw[i] == '"') {
                                out.add((byte) '"');
                            }
                            out.add(raw[i]);
                        }
                        out.add((byte) '"');
                    } else {
                        if (neutralise) {
                            out.add((byte) '\'');
                        }
                        out.add(raw, p, length);
                    }
                    p = end;
                }
            }
            out.add((byte) '\r');
            out.add((byte) '\n');
        }
    }

    /**
     * Whether a cell holding {@code c} is quoted: RFC 4180's comma, quote, CR and LF, and the other separators a spreadsheet
     * may split on, {@code ;} (Excel's list separator where the decimal mark is a comma) and tab, so that no part of a cell
     * after one, which may begin like a formula ({@code x;=HYPERLINK(...)}), becomes a cell of its own: inside quotes
     * nothing is split. The one rule for cells and field names.
     */
    static boolean needsQuotes(int c) {
        return c == ',' || c == '"' || c == '\r' || c == '\n' || c == ';' || c == '\t';
    }

    /** Whether a text beginning with {@code first} is a formula to a spreadsheet: {@code = + - @}, tab or CR (OWASP's list). */
    static boolean formulaLike(int first) {
        return first == '=' || first == '+' || first == '-' || first == '@' || first == '\t' || first == '\r';
    }

    /**
     * Whether {@code raw[start..end)} is wholly a number a spreadsheet reads as one and never as a formula:
     * {@code -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?}. Not {@code -infinity}, {@code -1 days} or {@code -$1.00}.
     */
    static boolean plainNumber(byte[] raw, int start, int end) {
        int i = start;
        if (i < end && raw[i] == '-') {
            i++;
        }
        int digits = i;
        i = digits(raw, i, end);
        if (i == digits) {
            return false;
        }
        if (i < end && raw[i] == '.') {
            int fraction = ++i;
            i = digits(raw, i, end);
            if (i == fraction) {
                return false;
            }
        }
        if (i < end && (raw[i] == 'e' || raw[i] == 'E')) {
            i++;
            if (i < end && (raw[i] == '+' || raw[i] == '-')) {
                i++;
            }
            int exponent = i;
            i = digits(raw, i, end);
            if (i == exponent) {
                return false;
            }
        }
        return i == end;
    }

    private static int digits(byte[] raw, int i, int end) {
        while (i < end && raw[i] >= '0' && raw[i] <= '9') {
            i++;
        }
        return i;
    }

    /** A growable byte buffer without ByteArrayOutputStream's locking. */
    static final class Bytes {
        private byte[] data;
        private int size;

        Bytes(int capacity) {
            data = new byte[capacity];
        }

        void add(byte b) {
            if (size == data.length) {
                data = Arrays.copyOf(data, data.length * 2);
            }
            data[size++] = b;
        }

        void add(byte[] bytes, int offset, int length) {
            if (size + length > data.length) {
                data = Arrays.copyOf(data, Math.max(data.length * 2, size + length));
            }
            System.arraycopy(bytes, offset, data, size, length);
            size += length;
        }

        byte[] array() {
            return data;
        }

        int size() {
            return size;
        }
    }

    static List<String[]> decode(byte[] raw, int columns) {
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
