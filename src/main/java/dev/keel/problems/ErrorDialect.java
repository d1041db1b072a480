package dev.keel.problems;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.MutableHttpResponse;

/**
 * An API that answers errors in its own shape rather than as problem+json, on the paths it
 * serves (Heroku's {@code {"id","message"}}). The one renderer of Micronaut's own errors (no route,
 * unreadable request) asks it, so that those answers speak the path's dialect too.
 */
public interface ErrorDialect {
    /** Whether requests to {@code path} are answered in this dialect. */
    boolean speaks(String path);

    /** {@code response} to {@code request}, carrying {@code problem} in this dialect. */
    MutableHttpResponse<?> render(HttpRequest<?> request, MutableHttpResponse<?> response, Problem problem);
}
