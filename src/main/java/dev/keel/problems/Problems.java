package dev.keel.problems;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MutableHttpResponse;

/** Builds HTTP responses that carry a problem document. */
public final class Problems {
    private Problems() {
    }

    public static MutableHttpResponse<Problem> response(Problem problem) {
        return HttpResponse.<Problem>status(HttpStatus.valueOf(problem.status()))
                .contentType(Problem.MEDIA_TYPE)
                .body(problem);
    }

    public static MutableHttpResponse<Problem> response(KeelException e, String instance) {
        String detail = e.type().safeToShow() ? e.getMessage() : "Keel hit an unexpected error; it is in Keel's log.";
        MutableHttpResponse<Problem> response = response(Problem.of(e.type(), detail, instance).withExtensions(e.extensions()));
        if (e.retryAfterSeconds() > 0) {
            response.header("Retry-After", Long.toString(e.retryAfterSeconds()));
        }
        return response;
    }
}
