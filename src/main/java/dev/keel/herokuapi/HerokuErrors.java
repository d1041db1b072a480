package dev.keel.herokuapi;

import dev.keel.problems.Problem;
import io.micronaut.core.annotation.Order;
import io.micronaut.core.order.Ordered;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.ResponseFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.serde.annotation.Serdeable;

/**
 * On Heroku's API paths, errors are Heroku's {@code {"id","message"}} as {@code application/json}
 * (the Heroku CLI prints {@code message} and reads {@code id}, such as {@code not_found}), not
 * problem+json. Ordered first, so it also sees the 401 the API key filter answers with.
 */
@ServerFilter({"/apps/**", "/addons/**", "/addon-attachments/**", "/actions/**", "/client/**", "/postgres/**"})
@Order(Ordered.HIGHEST_PRECEDENCE)
final class HerokuErrors {
    @Serdeable
    record HerokuError(String id, String message) {
    }

    @ResponseFilter
    void asHerokuError(MutableHttpResponse<?> response) {
        response.getBody(Problem.class).ifPresent(problem -> {
            String message = problem.detail() != null ? problem.detail() : problem.title();
            response.body(new HerokuError(id(problem.status()), message)).contentType(MediaType.APPLICATION_JSON_TYPE);
        });
    }

    private static String id(int status) {
        switch (status) {
            case 401:
                return "unauthorized";
            case 403:
                return "forbidden";
            case 404:
                return "not_found";
            case 409:
                return "conflict";
            case 422:
                return "invalid_params";
            default:
                return status >= 500 ? "internal_server_error" : "bad_request";
        }
    }
}
