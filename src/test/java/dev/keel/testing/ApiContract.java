package dev.keel.testing;

import com.atlassian.oai.validator.OpenApiInteractionValidator;
import com.atlassian.oai.validator.model.Request;
import com.atlassian.oai.validator.model.SimpleResponse;
import com.atlassian.oai.validator.report.LevelResolver;
import com.atlassian.oai.validator.report.ValidationReport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Checks every answer the test suite receives through {@link Api} against the OpenAPI document
 * the Keel that answered serves ({@code /openapi.yaml}): the path and method must be in it, and
 * the status, content type and body must be what it says. A mismatch fails the request's test
 * at once, naming what differs.
 */
public final class ApiContract {
    private static final Map<String, OpenApiInteractionValidator> VALIDATORS = new ConcurrentHashMap<>();
    private static final AtomicLong CHECKED = new AtomicLong();

    private ApiContract() {
    }

    /** How many answers were checked in this JVM. */
    public static long checked() {
        return CHECKED.get();
    }

    static void check(HttpClient http, String baseUrl, String method, URI uri, int status, String contentType, String body) {
        if (!uri.getPath().startsWith("/v1/") && !uri.getPath().startsWith("/heroku/") && !uri.getPath().startsWith("/dataclips/")) {
            return; // Heroku's own API shapes, /metrics and the documents themselves are checked by their own tests
        }
        OpenApiInteractionValidator validator = VALIDATORS.computeIfAbsent(baseUrl, url -> load(http, url));
        SimpleResponse.Builder response = SimpleResponse.Builder.status(status);
        if (!contentType.isEmpty()) {
            response.withContentType(contentType);
        }
        if (!body.isEmpty()) {
            response.withBody(body);
        }
        ValidationReport report = validator.validateResponse(uri.getPath(), Request.Method.valueOf(method), response.build());
        CHECKED.incrementAndGet();
        if (report.hasErrors()) {
            String what = method + " " + uri.getPath() + " -> " + status + " " + contentType + ": " + report.getMessages() + "\n  body: "
                    + (body.length() > 500 ? body.substring(0, 500) + "..." : body);
            record(what);
            throw new AssertionError("the answer does not match Keel's OpenAPI document: " + what);
        }
    }

    private static void record(String violation) {
        try {
            Path file = TestKeel.workDir().resolve("openapi-violations.txt");
            Files.createDirectories(file.getParent());
            Files.writeString(file, violation + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The document Keel at {@code baseUrl} serves, fetched with the caller's client (which trusts Keel's CA over HTTPS). */
    private static OpenApiInteractionValidator load(HttpClient http, String baseUrl) {
        try {
            String yaml = http.send(HttpRequest.newBuilder(URI.create(baseUrl + "/openapi.yaml")).timeout(Timeouts.REQUEST).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return OpenApiInteractionValidator.createForInlineApiSpecification(yaml)
                    .withLevelResolver(LevelResolver.create()
                            .withLevel("validation.request", ValidationReport.Level.IGNORE)
                            .withLevel("validation.response.security", ValidationReport.Level.IGNORE)
                            .build())
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
