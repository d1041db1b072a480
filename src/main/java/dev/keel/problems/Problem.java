package dev.keel.problems;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.util.LinkedHashMap;
import java.util.Map;

/** An RFC 9457 problem document; {@code extensions} are rendered as top-level members. */
@Serdeable
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(
        String type,
        String title,
        int status,
        @Nullable String detail,
        @Nullable String instance,
        @JsonAnyGetter Map<String, Object> extensions) {

    public static final String MEDIA_TYPE = "application/problem+json";

    public static Problem of(ProblemType type, @Nullable String detail, @Nullable String instance) {
        return new Problem(type.uri(), type.title(), type.status(), detail, instance, Map.of());
    }

    Problem withExtensions(Map<String, Object> more) {
        Map<String, Object> all = new LinkedHashMap<>(extensions);
        all.putAll(more);
        return new Problem(type, title, status, detail, instance, all);
    }
}
