package dev.keel.dumps;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The HTTP/1.1 answer to {@link DumpUrls}' GET: its head read, and its body framed as the head
 * says, so that a dump cut short is an error rather than a short dump.
 */
final class HttpFraming {
    /** The most a status line and headers may take: a server is not to fill Keel's memory with them. */
    private static final int MAX_HEADER_BYTES = 64 * 1024;
    /** Digits only (no sign, no list), and few enough to be a long. */
    private static final Pattern CONTENT_LENGTH = Pattern.compile("[0-9]{1,18}");
    private static final Pattern CHUNK_SIZE = Pattern.compile("[0-9a-fA-F]{1,15}");

    private HttpFraming() {
    }

    /**
     * The status line and headers (informational answers skipped), and the body as the headers
     * frame it. A head that could frame its body two ways (RFC 9112's smuggling cases: a folded or
     * space-before-colon field line, a signed or conflicting Content-Length) is refused, as an
     * answer that is not HTTP/1.1 is: Keel would rather fail a restore than guess at a dump's end.
     */
    static DumpUrls.Response read(InputStream in, String host) throws IOException {
        int[] budget = {MAX_HEADER_BYTES};
        while (true) {
            String statusLine = line(in, budget);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || !parts[1].matches("\\d{3}")) {
                throw notHttp(host, "a malformed status line");
            }
            int status = Integer.parseInt(parts[1]);
            Map<String, String> headers = new HashMap<>();
            List<String> codings = new ArrayList<>();
            for (String header = line(in, budget); !header.isEmpty(); header = line(in, budget)) {
                int colon = header.indexOf(':');
                if (header.charAt(0) == ' ' || header.charAt(0) == '\t') {
                    throw notHttp(host, "a folded header line");
                }
                if (colon <= 0 || Character.isWhitespace(header.charAt(colon - 1))) {
                    throw notHttp(host, "a header line without a name and a colon");
                }
                String name = header.substring(0, colon).toLowerCase(Locale.ROOT);
                String value = header.substring(colon + 1).strip();
                if (name.equals("content-length")) {
                    if (!CONTENT_LENGTH.matcher(value).matches()) {
                        throw notHttp(host, "a Content-Length that is not a length");
                    }
                    String before = headers.get(name);
                    if (before != null && Long.parseLong(before) != Long.parseLong(value)) {
                        throw notHttp(host, "two different Content-Lengths");
                    }
                }
                if (name.equals("transfer-encoding")) {
                    codings.addAll(List.of(value.split(",", -1)));
                }
                headers.putIfAbsent(name, value);
            }
            if (status >= 100 && status < 200) {
                continue;
            }
            // The last coding says whether the body is chunked; any other coding is read to the connection's end.
            boolean chunked = !codings.isEmpty() && codings.get(codings.size() - 1).strip().equalsIgnoreCase("chunked");
            InputStream body = chunked ? new Chunked(in)
                    : !codings.isEmpty() || !headers.containsKey("content-length") ? in
                    : new Counted(in, Long.parseLong(headers.get("content-length")));
            return new DumpUrls.Response(status, headers, body);
        }
    }

    private static KeelException notHttp(String host, String what) {
        return new KeelException(ProblemType.UNAVAILABLE, "The server of " + host + " did not answer in HTTP/1.1 (" + what
                + "); check the URL.");
    }

    /** A line ending in CRLF (or LF), without it, counted against what the headers may take. */
    private static String line(InputStream in, int[] budget) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new EOFException("the server closed the connection within its headers");
            }
            if (--budget[0] < 0) {
                throw new IOException("the server's headers are longer than " + MAX_HEADER_BYTES + " bytes");
            }
            line.write(b);
        }
        String text = line.toString(StandardCharsets.ISO_8859_1);
        return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
    }

    /** The length of a body that a head read here framed by its Content-Length (checked then), or null. */
    static @Nullable Long length(@Nullable String header) {
        return header == null ? null : Long.parseLong(header);
    }

    /** A body framed by the headers: the connection closing before its end is an error, not the end of the dump. */
    private abstract static class Framed extends FilterInputStream {
        Framed(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        /** Reads at most {@code left} bytes, which must come. */
        int readSome(byte[] b, int off, int len, long left) throws IOException {
            int n = in.read(b, off, (int) Math.min(len, left));
            if (n < 0) {
                throw new EOFException("the server closed the connection before the end of the dump");
            }
            return n;
        }
    }

    /** A body of a known length. */
    private static final class Counted extends Framed {
        private long left;

        Counted(InputStream in, long length) {
            super(in);
            this.left = length;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left == 0 || len == 0) {
                return left == 0 ? -1 : 0;
            }
            int n = readSome(b, off, len, left);
            left -= n;
            return n;
        }
    }

    /** A chunked body (RFC 9112, 7.1), decoded; its trailers are read and dropped. */
    private static final class Chunked extends Framed {
        private long left;
        private boolean started;
        private boolean done;

        Chunked(InputStream in) {
            super(in);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (left == 0 && !done && len > 0) {
                nextChunk();
            }
            if (done || len == 0) {
                return done ? -1 : 0;
            }
            int n = readSome(b, off, len, left);
            left -= n;
            return n;
        }

        private void nextChunk() throws IOException {
            int[] budget = {MAX_HEADER_BYTES};
            if (started && !line(in, budget).isEmpty()) {
                throw new IOException("the server sent a chunk longer than its size"); // its data must end in CRLF
            }
            started = true;
            String size = line(in, budget);
            int extension = size.indexOf(';');
            String digits = (extension < 0 ? size : size.substring(0, extension)).strip();
            if (!CHUNK_SIZE.matcher(digits).matches()) {
                throw new IOException("the server sent a malformed chunk size: " + size);
            }
            left = Long.parseLong(digits, 16);
            if (left == 0) {
                done = true;
                while (!line(in, budget).isEmpty()) {
                    // a trailer, dropped
                }
            }
        }
    }
}
