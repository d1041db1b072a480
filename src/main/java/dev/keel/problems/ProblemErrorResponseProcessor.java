package dev.keel.problems;

import io.micronaut.context.annotation.Replaces;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.server.exceptions.response.ErrorContext;
import io.micronaut.http.server.exceptions.response.ErrorResponseProcessor;
import jakarta.inject.Singleton;

/**
 * Renders the errors Micronaut raises on its own (no route, wrong method, unreadable body) as
 * problem documents with fixed sentences: parser and framework messages are not passed on.
 */
@Singleton
@Replaces(ErrorResponseProcessor.class)
final class ProblemErrorResponseProcessor implements ErrorResponseProcessor<Problem> {
    @Override
    public MutableHttpResponse<Problem> processResponse(ErrorContext context, MutableHttpResponse<?> response) {
        int status = response.code();
        ProblemType type = ProblemType.forStatus(status);
        String path = context.getRequest().getPath();
        String detail = switch (type) {
            case BAD_REQUEST -> "The request could not be read: send a JSON object with Content-Type: application/json,"
                    + " with each field of the documented type.";
            case NOT_FOUND -> "There is no resource at " + path + ".";
            case METHOD_NOT_ALLOWED -> context.getRequest().getMethodName() + " is not supported on " + path + ".";
            case UNSUPPORTED_MEDIA_TYPE -> "Send the request body as application/json.";
            case NOT_ACCEPTABLE -> "This resource is available as application/json.";
            case PAYLOAD_TOO_LARGE -> "The request body is larger than Keel accepts.";
            case INTERNAL -> "Keel hit an unexpected error; it is in Keel's log.";
            default -> null;
        };
        Problem problem = Problem.of(type, detail, path);
        return response.contentType(Problem.MEDIA_TYPE).body(problem);
    }
}
