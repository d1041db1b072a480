package dev.keel.http;

import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.annotation.Order;
import io.micronaut.core.order.Ordered;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Refuses, before anything reads them, a path or query string that is not percent-encoded UTF-8
 * or that holds a control character (NUL above all, which Postgres cannot compare or store).
 * Netty already refuses control characters in headers. Ordered right after the Heroku error
 * shape, so that it answers on Heroku's paths in that shape too.
 */
@ServerFilter(ServerFilter.MATCH_ALL_PATTERN)
@Order(Ordered.HIGHEST_PRECEDENCE + 1)
final class RequestText {
    @RequestFilter
    @Nullable
    HttpResponse<Problem> check(HttpRequest<?> request) {
        String path = request.getUri().getRawPath();
        String query = request.getUri().getRawQuery();
        String wrong = wrong("path", path == null ? "" : path);
        if (wrong == null && query != null) {
            wrong = wrong("query string", query.replace('+', ' '));
        }
        return wrong == null ? null : Problems.response(Problem.of(ProblemType.BAD_REQUEST, wrong, path));
    }

    /** What is wrong with a raw path or query, or null. */
    @Nullable
    static String wrong(String part, String raw) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int value = i + 2 < raw.length() ? hex(raw.charAt(i + 1), raw.charAt(i + 2)) : -1;
                if (value < 0) {
                    return "The " + part + " has a '%' that is not followed by two hex digits: percent-encode it as %25.";
                }
                bytes.write(value);
                i += 2;
            } else {
                bytes.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        String decoded;
        try {
            decoded = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            return "The " + part + " is not valid UTF-8 once percent-decoded: encode text as UTF-8 before percent-encoding it.";
        }
        for (int i = 0; i < decoded.length(); i++) {
            char c = decoded.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return "The " + part + " holds the control character U+" + String.format("%04X", (int) c)
                        + " (percent-encoded or not); remove it: names, ids and parameter values never hold one.";
            }
        }
        return null;
    }

    private static int hex(char high, char low) {
        int h = Character.digit(high, 16);
        int l = Character.digit(low, 16);
        return h < 0 || l < 0 ? -1 : h * 16 + l;
    }
}
