package dev.keel.http;

import io.micronaut.http.HttpHeaders;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpRequest;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;

/**
 * Reads a {@code /v1} request body sent as {@code application/x-www-form-urlencoded} as JSON:
 * that is what {@code curl -d '{"plan":"standard-0"}'} sends, and the API takes only JSON. The
 * route must accept that content type to be matched at all: mark it {@link JsonBody}.
 */
@ServerFilter("/v1/**")
final class JsonBodyFilter {
    @RequestFilter
    void treatFormBodyAsJson(MutableHttpRequest<?> request) {
        request.getContentType()
                .filter(type -> type.matches(MediaType.APPLICATION_FORM_URLENCODED_TYPE))
                .ifPresent(type -> request.getHeaders().set(HttpHeaders.CONTENT_TYPE, MediaType.APPLICATION_JSON));
    }
}
