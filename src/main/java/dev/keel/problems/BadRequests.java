package dev.keel.problems;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.exceptions.SerdeException;
import io.micronaut.serde.exceptions.path.MapItemReferencePath;
import io.micronaut.serde.exceptions.path.PropertyReferencePath;
import io.micronaut.serde.exceptions.path.ReferencePath;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The sentence of a 400 that Micronaut raised while reading a request: which field of the body
 * has which problem, where the JSON breaks, or else what a readable request looks like. Built
 * from the exception's structure (field path, parser location), never from its message, except
 * for {@link InvalidValue}, whose message is written for the caller.
 */
final class BadRequests {
    static final String GENERIC = "The request could not be read: percent-encode the URL as UTF-8, keep control characters out of"
            + " headers, and send a body as one JSON object with Content-Type: application/json, each field of its documented type.";

    private BadRequests() {
    }

    static String detail(@Nullable Throwable cause) {
        SerdeException located = null;
        InvalidValue invalid = null;
        JsonProcessingException syntax = null;
        for (Throwable t = cause; t != null && t.getCause() != t; t = t.getCause()) {
            if (t instanceof SerdeException s && !s.getPath().isEmpty() && located == null) {
                located = s;
            }
            if (t instanceof InvalidValue v) {
                invalid = v;
            }
            if (t instanceof JsonProcessingException j && syntax == null) {
                syntax = j;
            }
        }
        String field = located == null ? null : field(located.getPath());
        if (invalid != null && field != null) {
            return "\"" + field + "\" " + invalid.getMessage() + ".";
        }
        if (invalid != null) {
            return "A value in the request body " + invalid.getMessage() + ".";
        }
        if (field != null) {
            return "\"" + field + "\" is not of its documented type: see the API's table in the README.";
        }
        if (syntax != null) {
            JsonLocation at = syntax.getLocation();
            return "The request body is not valid JSON" + (at == null || at.getLineNr() < 0 ? "" : " (line " + at.getLineNr() + ", column "
                    + at.getColumnNr() + ")") + ": send one JSON object with Content-Type: application/json.";
        }
        return GENERIC;
    }

    /** The JSON path of a field, outermost first: {@code plan.name}, {@code parameters.since}. */
    @Nullable
    private static String field(List<ReferencePath> path) {
        List<String> names = new ArrayList<>();
        for (ReferencePath step : path) {
            if (step instanceof PropertyReferencePath property) {
                names.add(0, snakeCase(property.property().getName()));
            } else if (step instanceof MapItemReferencePath item) {
                names.add(0, item.key());
            }
        }
        return names.isEmpty() ? null : String.join(".", names);
    }

    /** JSON members are snake_case (micronaut.serde.property-naming-strategy). */
    private static String snakeCase(String javaName) {
        return javaName.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }
}
