package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * A result as a byte stream: a head, each stored chunk of rows encoded as it is read, a tail.
 * Only one chunk (a few thousand rows) is in memory at a time, so a million rows stream out.
 */
abstract class RowStream extends InputStream {
    private final Iterator<byte[]> chunks;
    private byte[] current;
    private int position;
    private boolean tailDone;
    private boolean firstRow = true;

    RowStream(Iterator<byte[]> chunks, String head) {
        this.chunks = chunks;
        this.current = head.getBytes(StandardCharsets.UTF_8);
    }

    /** One decompressed chunk of rows, encoded; {@code first} is true for the result's first chunk. */
    abstract byte[] encodeChunk(byte[] raw, boolean first);

    abstract String tail();

    private boolean fill() {
        while (position >= current.length) {
            if (chunks.hasNext()) {
                current = encodeChunk(chunks.next(), firstRow);
                firstRow = false;
            } else if (!tailDone) {
                tailDone = true;
                current = tail().getBytes(StandardCharsets.UTF_8);
            } else {
                return false;
            }
            position = 0;
        }
        return true;
    }

    @Override
    public int read() {
        return fill() ? current[position++] & 0xff : -1;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) {
        if (length == 0) {
            return 0;
        }
        if (!fill()) {
            return -1;
        }
        int n = Math.min(length, current.length - position);
        System.arraycopy(current, position, buffer, offset, n);
        position += n;
        return n;
    }

    /**
     * RFC 4180: a header row of field names, CRLF line ends, fields quoted when they hold a separator, quote or line break
     * ({@link RowChunks#needsQuotes}: {@code ;} and tab too); NULL is empty. A field name or a cell that begins like a
     * formula ({@code = + - @}, tab, CR) begins with {@code '}, but for a plain number in a column that is not free text
     * ({@link ColumnType#freeText}; see {@link RowChunks#csv}); the JSON keeps them as they are.
     */
    static final class Csv extends RowStream {
        private final boolean[] freeText;

        Csv(ClipResult result, Iterator<byte[]> chunks) {
            super(chunks, header(result));
            this.freeText = freeText(result);
        }

        /** Per column, whether its cells are free text; every column is, for a result stored without its types. */
        private static boolean[] freeText(ClipResult result) {
            boolean[] free = new boolean[result.fields().size()];
            for (int i = 0; i < free.length; i++) {
                free[i] = result.types().size() != free.length || result.types().get(i).freeText();
            }
            return free;
        }

        /** The field names as a row of free-text cells: one rule quotes and neutralises them and the cells. */
        private static String header(ClipResult result) {
            if (result.fields().isEmpty()) {
                return "\r\n"; // a row of no cells, which no chunk's encoding holds
            }
            boolean[] names = new boolean[result.fields().size()];
            Arrays.fill(names, true);
            RowChunks.Bytes out = new RowChunks.Bytes(256);
            RowChunks.csv(RowChunks.row(result.fields()), names, out);
            return new String(out.array(), 0, out.size(), StandardCharsets.UTF_8);
        }

        @Override
        byte[] encodeChunk(byte[] raw, boolean first) {
            RowChunks.Bytes out = new RowChunks.Bytes(raw.length + raw.length / 4);
            RowChunks.csv(raw, freeText, out);
            return Arrays.copyOf(out.array(), out.size());
        }

        @Override
        String tail() {
            return "";
        }
    }

    /**
     * Heroku's dataclip JSON: title, fields, types (OIDs), type_names, values (numbers and booleans as JSON ones), started_at,
     * finished_at; and Keel's row_count, truncated, truncated_reason and truncated_detail.
     */
    static final class JsonDocument extends RowStream {
        private final List<ColumnType> types;
        private final @Nullable Integer cellLimit;

        JsonDocument(String title, ClipResult result, Iterator<byte[]> chunks) {
            super(chunks, head(title, result));
            this.types = result.types();
            this.cellLimit = result.cellLimit();
        }

        private static String head(String title, ClipResult result) {
            return "{\"title\":" + Json.quote(title)
                    + ",\"fields\":" + Json.write(result.fields())
                    + ",\"types\":" + Json.write(result.types().stream().map(ColumnType::oid).toList())
                    + ",\"type_names\":" + Json.write(DataclipView.typeNames(result.types()))
                    + ",\"started_at\":" + Json.quote(result.startedAt().toString())
                    + ",\"finished_at\":" + Json.quote(String.valueOf(result.finishedAt()))
                    + ",\"row_count\":" + result.rowCount()
                    + ",\"truncated\":" + result.truncated()
                    + ",\"truncated_reason\":" + (result.truncatedReason() == null ? "null" : Json.quote(result.truncatedReason()))
                    + ",\"truncated_detail\":" + (result.truncatedDetail() == null ? "null" : Json.quote(result.truncatedDetail()))
                    + ",\"values\":[";
        }

        @Override
        byte[] encodeChunk(byte[] raw, boolean first) {
            StringBuilder out = new StringBuilder(raw.length + raw.length / 2);
            boolean firstRow = first;
            for (String[] row : RowChunks.decode(raw, types.size())) {
                encode(row, firstRow, out);
                firstRow = false;
            }
            return out.toString().getBytes(StandardCharsets.UTF_8);
        }

        private void encode(String[] row, boolean first, StringBuilder out) {
            if (!first) {
                out.append(',');
            }
            out.append('[');
            for (int i = 0; i < row.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                value(row[i], types.get(i), cellLimit, out);
            }
            out.append(']');
        }

        @Override
        String tail() {
            return "]}";
        }

        /**
         * A cell as JSON. A number column's text is written raw only when it is a whole JSON number and shorter than the
         * length the result's cells were cut to ({@code cellLimit}, null when none were): one that reaches it may be a
         * number cut short, of another magnitude, and goes as the string it is (its text is ASCII: bytes are characters).
         */
        static void value(String value, ColumnType type, @Nullable Integer cellLimit, StringBuilder out) {
            if (value == null) {
                out.append("null");
            } else if (type.jsonNumber() && isJsonNumber(value) && (cellLimit == null || value.length() < cellLimit)) {
                out.append(value);
            } else if (type.bool()) {
                out.append("t".equals(value) ? "true" : "false");
            } else {
                string(value, out);
            }
        }

        /**
         * Whether the whole of {@code value} is a number in RFC 8259's grammar,
         * {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}: only then is it written raw. Postgres' text for a number
         * column may be none ({@code NaN}, {@code Infinity} of float and numeric), and a column's type is only what the
         * server and the driver call it, so whatever else the text is goes as a string, never as JSON of its own.
         */
        static boolean isJsonNumber(String value) {
            int n = value.length();
            int i = 0;
            if (i < n && value.charAt(i) == '-') {
                i++;
            }
            if (i < n && value.charAt(i) == '0') {
                i++;
            } else {
                int start = i;
                i = digits(value, i);
                if (i == start) {
                    return false;
                }
            }
            if (i < n && value.charAt(i) == '.') {
                int start = ++i;
                i = digits(value, i);
                if (i == start) {
                    return false;
                }
            }
            if (i < n && (value.charAt(i) == 'e' || value.charAt(i) == 'E')) {
                i++;
                if (i < n && (value.charAt(i) == '+' || value.charAt(i) == '-')) {
                    i++;
                }
                int start = i;
                i = digits(value, i);
                if (i == start) {
                    return false;
                }
            }
            return i == n;
        }

        /** The index after the run of ASCII digits that starts at {@code i}. */
        private static int digits(String value, int i) {
            while (i < value.length() && value.charAt(i) >= '0' && value.charAt(i) <= '9') {
                i++;
            }
            return i;
        }

        static void string(String value, StringBuilder out) {
            out.append('"');
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    default -> {
                        if (c < 0x20 || c == '\u2028' || c == '\u2029') {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }
}
