package dev.keel.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.keel.testing.RawHttp;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Spoils one input of a valid request at a time: each path variable, the query string, each
 * header the route reads, the body as a whole and each of its fields. Every request made here
 * is bad input that Keel must refuse with a 4xx.
 */
final class BadInputs {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MARK = "\"__spoilt__\"";
    private static final String MEGABYTE = "a".repeat(1_100_000);
    private static final String LONG = "a".repeat(10_000);

    /** One spoilt request and what was spoilt. */
    record Case(String what, RawHttp.Request request) {
    }

    private BadInputs() {
    }

    /** Every spoilt variant of {@code input}, made by a caller whose credentials are {@code authorization} (null: none). */
    static List<Case> of(RouteInputs.Input input, String path, String body, String authorization, boolean authenticated) {
        List<Case> cases = new ArrayList<>();
        RawHttp.Request valid = RawHttp.Request.of(input.method(), path);
        if (authorization != null) {
            valid = valid.withHeader("Authorization", authorization);
        }
        if (body != null) {
            valid = valid.withBody("application/json", bytes(body));
        }
        pathVariables(cases, input, path, valid);
        query(cases, input, path, valid);
        headers(cases, valid, authorization, authenticated, body != null);
        if (body != null) {
            wholeBody(cases, input, valid, body);
            for (RouteInputs.Field field : input.fields()) {
                for (String spoilt : values(field.kind(), current(body, field.path()))) {
                    cases.add(new Case("field " + field.path() + " = " + shorten(spoilt), withJson(valid, replace(body, field.path(), spoilt))));
                }
            }
        }
        return cases;
    }

    private static void pathVariables(List<Case> cases, RouteInputs.Input input, String path, RawHttp.Request valid) {
        String template = input.route().substring(input.route().indexOf(' ') + 1);
        String[] names = template.split("/");
        String[] segments = path.split("/");
        for (int i = 0; i < names.length; i++) {
            if (!names[i].startsWith("{")) {
                continue;
            }
            String v = segments[i];
            List<byte[]> spoilt = new ArrayList<>();
            for (String text : List.of("nothing-here", "%00", "a%00b", "%ED%A0%80", "%C3%28", "%FF", "%E2%80%AE" + v, v + "%CC%81",
                    v + "%F0%9F%98%80", v + "%20", "99999999999999999999", "-1", "1e400", UUID.randomUUID().toString(), "%zz", "%",
                    v + "%2F..", v + "x", "a".repeat(10_000))) {
                spoilt.add(bytes(text));
            }
            spoilt.add(concat(bytes(v), new byte[] {(byte) 0xC3, (byte) 0xA9})); // raw, unescaped UTF-8
            spoilt.add(concat(bytes(v), new byte[] {0})); // a raw NUL byte in the request line
            for (byte[] value : spoilt) {
                String[] copy = segments.clone();
                copy[i] = "\u0001";
                byte[] target = bytes(String.join("/", copy));
                cases.add(new Case("path variable " + names[i] + " = " + shorten(new String(value, StandardCharsets.ISO_8859_1)),
                        valid.withTarget(splice(target, value))));
            }
        }
    }

    private static void query(List<Case> cases, RouteInputs.Input input, String path, RawHttp.Request valid) {
        List<String> queries = new ArrayList<>(List.of("fuzz=%00", "fuzz=a%00b", "fuzz=%ED%A0%80", "fuzz=%C3%28", "%zz=1", "fuzz=%"));
        if (input.booleanQuery() != null) {
            for (String value : List.of("maybe", "%00", "99999999999999999999", "1e400", "tru%CC%81e", "", "%E2%80%AEtrue", "[true]")) {
                queries.add(input.booleanQuery() + "=" + value);
            }
        }
        for (String query : queries) {
            cases.add(new Case("query " + query, valid.withTarget(bytes(path + (path.contains("?") ? "&" : "?") + query))));
        }
    }

    private static void headers(List<Case> cases, RawHttp.Request valid, String authorization, boolean authenticated, boolean hasBody) {
        cases.add(new Case("header with a NUL byte", valid.withHeader("X-Fuzz", new byte[] {'a', 0, 'b'})));
        cases.add(new Case("header of 100,000 bytes", valid.withHeader("X-Fuzz", bytes(LONG.repeat(10)))));
        if (hasBody) {
            cases.add(new Case("Content-Type with a NUL byte", replaceHeader(valid, "Content-Type", concat(bytes("application/json"), new byte[] {0}))));
        }
        if (authenticated) {
            String given = authorization == null ? "Bearer keel_x" : authorization;
            cases.add(new Case("Authorization with a NUL byte", replaceHeader(valid, "Authorization", concat(bytes(given), new byte[] {0}))));
            cases.add(new Case("Authorization with an RTL mark", replaceHeader(valid, "Authorization",
                    bytes(given.replaceFirst(" ", " \u202e")))));
            cases.add(new Case("Authorization with invalid UTF-8", replaceHeader(valid, "Authorization",
                    concat(bytes(given), new byte[] {(byte) 0xFF, (byte) 0xFE}))));
            cases.add(new Case("Authorization with an emoji", replaceHeader(valid, "Authorization", bytes(given + "\ud83d\ude00"))));
        }
    }

    private static void wholeBody(List<Case> cases, RouteInputs.Input input, RawHttp.Request valid, String body) {
        List<String> bodies = new ArrayList<>(List.of(body.substring(0, body.length() / 2), "[]", "\"x\"", "42", "true", body + "x",
                body + body, "[".repeat(100_000), "{\"a\":" + "[".repeat(100_000)));
        if (!input.bodyOptional()) {
            bodies.addAll(List.of("", "null"));
        }
        if (!input.bodyOptional() && !input.method().equals("PATCH")) {
            bodies.add("{}"); // a PATCH of nothing changes nothing, and is fine
        }
        for (String spoilt : bodies) {
            cases.add(new Case("body " + shorten(spoilt), withJson(valid, bytes(spoilt))));
        }
        int quote = body.indexOf(":\"") + 2;
        cases.add(new Case("body with invalid UTF-8", withJson(valid, concat(concat(bytes(body.substring(0, quote)),
                new byte[] {(byte) 0xC3, 0x28}), bytes(body.substring(quote))))));
        List<String> types = new ArrayList<>(List.of("text/plain", "application/xml", "multipart/form-data; boundary=x", "application/octet-stream"));
        if (!new String(valid.target(), StandardCharsets.UTF_8).startsWith("/v1/")) {
            types.add("application/x-www-form-urlencoded"); // under /v1, JSON sent so is read as JSON, as curl -d sends it
        }
        for (String type : types) {
            cases.add(new Case("Content-Type " + type, replaceHeader(valid, "Content-Type", bytes(type))));
        }
        cases.add(new Case("a form body", replaceHeader(valid.withBody(null, bytes("name=x&plan=standard-0")), "Content-Type",
                bytes("application/x-www-form-urlencoded"))));
    }

    /** Spoilt values of a field of {@code kind} whose valid value is {@code v} (as JSON). */
    private static List<String> values(RouteInputs.Kind kind, JsonNode v) {
        String text = v.isTextual() ? v.asText() : v.toString();
        String s = escape(text);
        List<String> types = List.of("123", "true", "[]", "{}", "[" + v + "]");
        List<String> values = new ArrayList<>();
        switch (kind) {
            case TOKEN, VERSION, SPAN, TIME -> {
                values.addAll(types);
                values.addAll(List.of("99999999999999999999", "1e400", q(s + "\\u0000"), q("\\ud800" + s), q("\\u202e" + s), q(s + "\\u0301"),
                        q(s + "\\ud83d\\ude00"), q(s + " x"), q(s + LONG), q(s + MEGABYTE)));
                if (kind == RouteInputs.Kind.SPAN) {
                    values.addAll(List.of(q("99999999999999999999 days"), q("9999999999 days"), q("PT99999999999999999999H"),
                            q("P99999999999D"), q("-1 hours"), q("0 seconds"), q("1 fortnight"), q("5")));
                }
                if (kind == RouteInputs.Kind.TIME) {
                    values.addAll(List.of(q("+999999999-12-31T23:59:59Z"), q("-999999999-01-01T00:00:00Z"), q("2026-13-45T99:99:99Z"),
                            q("0000-01-01T00:00:00Z"), q("9999-12-31T23:59:59+18:00"), q("2026-01-01T00:00:00")));
                }
                if (kind == RouteInputs.Kind.VERSION) {
                    values.addAll(List.of("-17", q("seventeen"), "2147483648", "17e400")); // 17.5 is Postgres 17's fifth minor release
                }
            }
            case TEXT -> {
                values.addAll(types);
                values.addAll(List.of(q(s + "\\u0000"), q(s + "\\ud800"), q("\\udc00" + s), q(s + LONG), q(s + MEGABYTE)));
            }
            case FREE -> {
                values.addAll(types);
                values.addAll(List.of(q(s + "\\u0000"), q(s + "\\ud800"), q(s + MEGABYTE)));
            }
            case INT -> values.addAll(List.of(q(text), "true", "[]", "{}", "[" + v + "]", "1.5", "99999999999999999999",
                    "-99999999999999999999", "1e400", "-1e400", "2147483648", "-2147483649", q("\\u0000"), "-1"));
            case BOOL, FLAG -> {
                values.addAll(List.of("1", "0", "[]", "{}", "[" + v + "]", "99999999999999999999", "1e400", q("\\u0000"), q("maybe")));
                if (kind == RouteInputs.Kind.BOOL) {
                    values.add(q(text));
                }
            }
            case MAP -> values.addAll(List.of(q("x"), "1", "[]", "true", "{\"n\":\"\\u0000\"}", "{\"n\":5}", "{\"n\":[]}", "{\"n\":{}}",
                    "{\"n\":\"1\\ud800\"}", "{\"n\":\"" + MEGABYTE + "\"}"));
            case OBJECT -> values.addAll(List.of(q("x"), "1", "[]", "true", "[" + v + "]"));
            case LIST -> {
                String e = escape(v.get(0).asText());
                values.addAll(List.of(q(e), "1", "true", "{}", "[1]", "[true]", "[null]", "[[]]", "[{}]", "[" + v + "]"));
                values.addAll(List.of("[" + q(e + "\\u0000") + "]", "[" + q("\\ud800" + e) + "]", "[" + q(e + " x") + "]",
                        "[" + q(e + "\\u0301") + "]", "[" + q(e + LONG) + "]"));
            }
            default -> throw new IllegalArgumentException(kind.name());
        }
        return values;
    }

    private static JsonNode current(String body, String path) {
        JsonNode node = parse(body);
        for (String part : path.split("\\.")) {
            node = node.get(part);
        }
        return node;
    }

    private static byte[] replace(String body, String path, String raw) {
        ObjectNode root = (ObjectNode) parse(body);
        ObjectNode parent = root;
        String[] parts = path.split("\\.");
        for (int i = 0; i < parts.length - 1; i++) {
            parent = (ObjectNode) parent.get(parts[i]);
        }
        parent.put(parts[parts.length - 1], "__spoilt__");
        return bytes(root.toString().replace(MARK, raw));
    }

    private static RawHttp.Request withJson(RawHttp.Request valid, byte[] body) {
        return new RawHttp.Request(valid.method(), valid.target(), valid.headers(), body);
    }

    private static RawHttp.Request replaceHeader(RawHttp.Request request, String name, byte[] value) {
        List<java.util.Map.Entry<String, byte[]>> headers = new ArrayList<>(request.headers().stream()
                .filter(h -> !h.getKey().equalsIgnoreCase(name)).toList());
        headers.add(java.util.Map.entry(name, value));
        return new RawHttp.Request(request.method(), request.target(), headers, request.body());
    }

    private static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("the template " + json + " is not JSON", e);
        }
    }

    /** {@code target} with its one byte 0x01 replaced by {@code value}. */
    private static byte[] splice(byte[] target, byte[] value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte b : target) {
            if (b == 1) {
                out.writeBytes(value);
            } else {
                out.write(b);
            }
        }
        return out.toByteArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = new byte[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static String q(String escaped) {
        return "\"" + escaped + "\"";
    }

    private static String escape(String text) {
        String json = JSON.getNodeFactory().textNode(text).toString();
        return json.substring(1, json.length() - 1);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String shorten(String text) {
        return text.length() > 60 ? text.substring(0, 60) + "...(" + text.length() + " chars)" : text;
    }
}
