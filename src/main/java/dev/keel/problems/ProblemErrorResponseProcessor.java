package dev.keel.problems;

import io.micronaut.context.annotation.Replaces;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.server.exceptions.response.ErrorContext;
import io.micronaut.http.server.exceptions.response.ErrorResponseProcessor;
import jakarta.inject.Singleton;

import java.util.List;

/**
 * Renders the errors Micronaut raises on its own (no route, wrong method, unreadable body) as
 * problem documents with Keel's sentences: parser and framework messages are not passed on (an
 * unreadable body's field and position are, see {@link BadRequests}). On the paths of an
 * {@link ErrorDialect}, in that dialect.
 */
@Singleton
@Replaces(ErrorResponseProcessor.class)
final class ProblemErrorResponseProcessor implements ErrorResponseProcessor<Problem> {
    private final List<ErrorDialect> dialects;

    ProblemErrorResponseProcessor(List<ErrorDialect> dialects) {
        this.dialects = dialects;
    }

    @Override
    @SuppressWarnings("unchecked")
    public MutableHttpResponse<Problem> processResponse(ErrorContext context, MutableHttpResponse<?> response) {
        int status = response.code();
        ProblemType type = ProblemType.forStatus(status);
        String path = context.getRequest().getPath();
        String detail = switch (type) {
            case BAD_REQUEST -> BadRequests.detail(context.getRootCause().orElse(null));
            case NOT_FOUND -> "There is no resource at " + path + ".";
            case METHOD_NOT_ALLOWED -> context.getRequest().getMethodName() + " is not supported on " + path + ".";
            case UNSUPPORTED_MEDIA_TYPE -> "Send the request body as application/json.";
            case NOT_ACCEPTABLE -> "This resource is available as application/json.";
            case PAYLOAD_TOO_LARGE -> "The request is larger than Keel accepts (a body of at most 1 MB, headers of at most 8 KB);"
                    + " send less.";
            case INTERNAL -> "Keel hit an unexpected error; it is in Keel's log.";
            default -> null;
        };
        Problem problem = Problem.of(type, detail, path);
        for (ErrorDialect dialect : dialects) {
            if (dialect.speaks(path)) {
                return (MutableHttpResponse<Problem>) dialect.render(context.getRequest(), response, problem);
            }
        }
        return response.contentType(Problem.MEDIA_TYPE).body(problem);
    }
}
