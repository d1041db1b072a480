package dev.keel.dataclips;

import io.micronaut.http.HttpRequest;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Parameter values from a query string ({@code ?since=2026-01-01}): the first value of each name. */
final class QueryValues {
    private QueryValues() {
    }

    static Map<String, String> of(HttpRequest<?> request) {
        Map<String, String> values = new TreeMap<>();
        request.getParameters().asMap().forEach((name, list) -> {
            if (!list.isEmpty()) {
                values.put(name.toLowerCase(Locale.ROOT), list.get(0));
            }
        });
        return values;
    }
}
