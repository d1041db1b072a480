package dev.keel.herokuapi;

import dev.keel.problems.ErrorDialect;
import dev.keel.problems.Problem;
import io.micronaut.core.annotation.Order;
import io.micronaut.core.order.Ordered;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.ResponseFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.serde.annotation.Serdeable;
import io.micronaut.web.router.RouteAttributes;

import java.util.List;

/**
 * Outside Keel's own paths ({@code /v1}, {@code /heroku}, {@code /dataclips}, ...), every path is
 * one the Heroku CLI might call, so errors there are Heroku's {@code {"id","message"}} as
 * {@code application/json} (the CLI prints {@code message} and reads {@code id}, such as
 * {@code not_found}), never problem+json. A path no route serves answers why Keel leaves it out
 * ({@link HerokuUnsupported}). Ordered first, so it also sees the 401 the API key filter answers
 * with; the errors Micronaut answers before any filter runs it renders as their {@link ErrorDialect}.
 */
@ServerFilter("/**")
@Order(Ordered.HIGHEST_PRECEDENCE)
final class HerokuErrors implements ErrorDialect {
    private static final List<String> KEEL_OWN = List.of("/v1/", "/heroku/", "/dataclips/", "/problems/", "/openapi", "/swagger",
            "/health", "/metrics", "/internal/");

    @Serdeable
    record HerokuError(String id, String message) {
    }

    @ResponseFilter
    void asHerokuError(HttpRequest<?> request, MutableHttpResponse<?> response) {
        if (speaks(request.getPath())) {
            response.getBody(Problem.class).ifPresent(problem -> render(request, response, problem));
        }
    }

    @Override
    public boolean speaks(String path) {
        return KEEL_OWN.stream().noneMatch(path::startsWith) && !path.equals("/v1");
    }

    @Override
    public MutableHttpResponse<?> render(HttpRequest<?> request, MutableHttpResponse<?> response, Problem problem) {
        boolean unrouted = RouteAttributes.getRouteMatch(request).isEmpty() && (problem.status() == 404 || problem.status() == 405);
        String message = unrouted ? HerokuUnsupported.reason(request.getMethodName(), request.getPath())
                : problem.detail() != null ? problem.detail() : problem.title();
        if (unrouted) {
            response.status(404);
        }
        return response.body(new HerokuError(unrouted ? "not_found" : id(problem.status()), message))
                .contentType(MediaType.APPLICATION_JSON_TYPE);
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
            case 429:
                return "rate_limit";
            case 503:
                return "unavailable";
            default:
                return status >= 500 ? "internal_server_error" : "bad_request";
        }
    }
}
