package dev.keel.problems;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import jakarta.inject.Singleton;

@Singleton
final class KeelExceptionHandler implements ExceptionHandler<KeelException, HttpResponse<Problem>> {
    @Override
    public HttpResponse<Problem> handle(HttpRequest request, KeelException exception) {
        return Problems.response(exception, request.getPath());
    }
}
