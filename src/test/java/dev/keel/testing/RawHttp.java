package dev.keel.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, byte for byte as given: what {@code java.net.http} refuses to
 * send (NUL bytes and raw non-ASCII in the request target or in headers, malformed percent
 * escapes, any Content-Type) reaches the server unchanged. One request per connection.
 */
public final class RawHttp {
    private final String host;
    private final int port;

    public RawHttp(String host, int port) {
        this.host = host;
        this.port = port;
    }

    /** A request: method, target (raw bytes, sent as they are), headers (name, raw value) and body. */
    public record Request(String method, byte[] target, List<Map.Entry<String, byte[]>> headers, byte[] body) {
        public static Request of(String method, String target) {
            return new Request(method, target.getBytes(StandardCharsets.UTF_8), List.of(), new byte[0]);
        }

        public Request withTarget(byte[] raw) {
            return new Request(method, raw, headers, body);
        }

        public Request withHeader(String name, byte[] value) {
            List<Map.Entry<String, byte[]>> more = new ArrayList<>(headers);
            more.add(Map.entry(name, value));
            return new Request(method, target, more, body);
        }

        public Request withHeader(String name, String value) {
            return withHeader(name, value.getBytes(StandardCharsets.UTF_8));
        }

        public Request withBody(String contentType, byte[] bytes) {
            Request typed = contentType == null ? this : withHeader("Content-Type", contentType);
            return new Request(method, target, typed.headers, bytes);
        }

        /** The target as text, non-printable bytes shown as %XX, for failure messages. */
        public String describe() {
            StringBuilder text = new StringBuilder(method).append(' ');
            int shown = Math.min(target.length, 160);
            for (int i = 0; i < shown; i++) {
                int b = target[i] & 0xff;
                text.append(b < 0x21 || b > 0x7e ? String.format("%%%02X", b) : String.valueOf((char) b));
            }
            return text.append(target.length > shown ? "...(" + target.length + " bytes)" : "").toString();
        }
    }

    /** An answer: status, headers (lower-case names), body. */
    public record Response(int status, Map<String, String> headers, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        public String contentType() {
            return headers.getOrDefault("content-type", "");
        }

        public JsonNode json() {
            return Api.parse(text());
        }

        @Override
        public String toString() {
            String shown = text();
            return status + " " + contentType() + " " + (shown.length() > 400 ? shown.substring(0, 400) + "..." : shown);
        }
    }

    public Response send(Request request) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) Timeouts.REQUEST.toMillis());
            socket.setSoTimeout((int) Timeouts.REQUEST.toMillis());
            OutputStream out = socket.getOutputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            head.writeBytes((request.method() + " ").getBytes(StandardCharsets.US_ASCII));
            head.writeBytes(request.target());
            head.writeBytes((" HTTP/1.1\r\nHost: " + host + ":" + port + "\r\nConnection: close\r\n").getBytes(StandardCharsets.US_ASCII));
            for (Map.Entry<String, byte[]> header : request.headers()) {
                head.writeBytes((header.getKey() + ": ").getBytes(StandardCharsets.US_ASCII));
                head.writeBytes(header.getValue());
                head.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
            if (request.body().length > 0 || !request.method().equals("GET")) {
                head.writeBytes(("Content-Length: " + request.body().length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            }
            head.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(head.toByteArray());
            try {
                out.write(request.body());
                out.flush();
            } catch (IOException e) {
                // The server may answer (413) and close before reading a large body: read what it said.
            }
            return read(socket.getInputStream(), request.method().equals("HEAD"));
        } catch (IOException e) {
            throw new UncheckedIOException(request.describe() + ": " + e.getMessage(), e);
        }
    }

    private static Response read(InputStream in, boolean head) throws IOException {
        String statusLine = line(in);
        if (statusLine == null) {
            throw new IOException("the server closed the connection without an answer");
        }
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (String line = line(in); line != null && !line.isEmpty(); line = line(in)) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).strip().toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
        }
        byte[] body;
        if (head) {
            body = new byte[0];
        } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (int size = Integer.parseInt(line(in).split(";")[0].strip(), 16); size > 0; size = Integer.parseInt(line(in).split(";")[0].strip(), 16)) {
                all.writeBytes(in.readNBytes(size));
                line(in);
            }
            body = all.toByteArray();
        } else if (headers.containsKey("content-length")) {
            body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
        } else {
            body = in.readAllBytes();
        }
        return new Response(status, headers, body);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != -1; b = in.read()) {
            if (b == '\n') {
                byte[] bytes = line.toByteArray();
                int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
        }
        return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
    }
}
