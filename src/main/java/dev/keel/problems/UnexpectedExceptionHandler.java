package dev.keel.problems;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.UUID;

/**
 * The last resort: logs the exception under a reference and answers 500 with only that
 * reference, so no message or stack trace of Keel's internals reaches the client.
 */
@Singleton
final class UnexpectedExceptionHandler implements ExceptionHandler<Exception, HttpResponse<Problem>> {
    private static final Logger LOG = LoggerFactory.getLogger(UnexpectedExceptionHandler.class);

    @Override
    public HttpResponse<Problem> handle(HttpRequest request, Exception exception) {
        if (CatalogOutage.is(exception)) {
            LOG.warn("Answering {} {} with 503: the catalog cannot be reached ({})", request.getMethodName(), request.getPath(),
                    exception.getMessage());
            return Problems.response(Problem.of(ProblemType.UNAVAILABLE, "Keel cannot reach its catalog, so the request was not"
                    + " carried out, or not all of it: try again in a minute (GET shows what a change left). The databases themselves keep"
                    + " serving meanwhile.", request.getPath()));
        }
        String reference = UUID.randomUUID().toString();
        LOG.error("Unexpected error answering {} {} (reference {})", request.getMethodName(), request.getPath(), reference, exception);
        return Problems.response(Problem.of(ProblemType.INTERNAL,
                "Keel hit an unexpected error; it is logged with reference " + reference + ". Try again, and report the reference if it persists.",
                request.getPath()).withExtensions(Map.of("reference", reference)));
    }
}
