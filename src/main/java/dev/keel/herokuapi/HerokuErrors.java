package dev.keel.herokuapi;

import dev.keel.problems.ErrorDialect;
import dev.keel.problems.Problem;
import io.micronaut.core.annotation.Order;
import io.micronaut.core.order.Ordered;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.ResponseFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.core.util.PathMatcher;
import io.micronaut.serde.annotation.Serdeable;

import java.util.List;

/**
 * On Heroku's API paths, errors are Heroku's {@code {"id","message"}} as {@code application/json}
 * (the Heroku CLI prints {@code message} and reads {@code id}, such as {@code not_found}), not
 * problem+json. Ordered first, so it also sees the 401 the API key filter answers with; the
 * errors Micronaut answers before any filter runs it renders as their {@link ErrorDialect}.
 */
@ServerFilter({HerokuErrors.APPS, HerokuErrors.ADDONS, HerokuErrors.ATTACHMENTS, HerokuErrors.ACTIONS, HerokuErrors.CLIENT,
        HerokuErrors.POSTGRES})
@Order(Ordered.HIGHEST_PRECEDENCE)
final class HerokuErrors implements ErrorDialect {
    static final String APPS = "/apps/**";
    static final String ADDONS = "/addons/**";
    static final String ATTACHMENTS = "/addon-attachments/**";
    static final String ACTIONS = "/actions/**";
    static final String CLIENT = "/client/**";
    static final String POSTGRES = "/postgres/**";
    private static final List<String> PATHS = List.of(APPS, ADDONS, ATTACHMENTS, ACTIONS, CLIENT, POSTGRES);

    @Serdeable
    record HerokuError(String id, String message) {
    }

    @ResponseFilter
    void asHerokuError(MutableHttpResponse<?> response) {
        response.getBody(Problem.class).ifPresent(problem -> render(response, problem));
    }

    @Override
    public boolean speaks(String path) {
        return PATHS.stream().anyMatch(pattern -> PathMatcher.ANT.matches(pattern, path));
    }

    @Override
    public MutableHttpResponse<?> render(MutableHttpResponse<?> response, Problem problem) {
        String message = problem.detail() != null ? problem.detail() : problem.title();
        return response.body(new HerokuError(id(problem.status()), message)).contentType(MediaType.APPLICATION_JSON_TYPE);
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
