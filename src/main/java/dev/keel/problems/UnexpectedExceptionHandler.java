package dev.keel.problems;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.Arrays;
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
        if (catalogUnreachable(exception)) {
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

    /**
     * Whether {@code failure} is the catalog out of reach: the catalog pool found no connection in
     * time, or a statement on one of its connections (the pool's proxies are on the stack; Keel's
     * sessions with managed servers are not pooled) failed for want of a connection (SQLState class 08).
     */
    static boolean catalogUnreachable(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLTransientConnectionException) {
                return true;
            }
            if (cause instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08")
                    && Arrays.stream(sql.getStackTrace()).anyMatch(f -> f.getClassName().startsWith("com.zaxxer.hikari."))) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }
}
