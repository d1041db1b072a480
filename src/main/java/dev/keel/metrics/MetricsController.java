package dev.keel.metrics;

import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.micronaut.context.annotation.Value;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * {@code GET /metrics}: every meter in Prometheus' text format. Its series name every team's
 * databases, so without {@code keel.metrics.token} it is served to loopback only (a Prometheus on
 * Keel's own machine); once the token is set, to anyone who sends {@code Authorization: Bearer
 * <token>} (a token of its own, not an API key, so a scraper holds no power over databases).
 */
@Controller("/metrics")
@ExecuteOn(TaskExecutors.BLOCKING)
final class MetricsController {
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private final DatabaseMetrics databases;
    private final byte[] token;
    private final Timer scrapes;

    MetricsController(PrometheusMeterRegistry registry, DatabaseMetrics databases, @Value("${keel.metrics.token}") String token) {
        this.registry = registry;
        this.databases = databases;
        this.token = token.getBytes(StandardCharsets.UTF_8);
        this.scrapes = Timer.builder("keel.metrics.scrape").description("Time to read the per-database figures for a scrape")
                .register(registry);
    }

    @Get
    @Produces(CONTENT_TYPE)
    @Operation(summary = "Every meter in Prometheus' text format", responses = {
            @ApiResponse(responseCode = "200", content = @Content(mediaType = CONTENT_TYPE, schema = @Schema(type = "string"))),
            @ApiResponse(responseCode = "401", content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class))),
            @ApiResponse(responseCode = "403", content = @Content(mediaType = Problem.MEDIA_TYPE, schema = @Schema(implementation = Problem.class)))})
    HttpResponse<?> scrape(HttpRequest<?> request) {
        if (token.length == 0 && !fromLoopback(request)) {
            return Problems.response(Problem.of(ProblemType.FORBIDDEN, "The metrics name every team's databases, so without a metrics"
                    + " token Keel serves them only to its own machine (loopback). To scrape from another host, set KEEL_METRICS_TOKEN"
                    + " and send it as Authorization: Bearer <token>.", request.getPath()));
        }
        if (token.length > 0) {
            byte[] sent = request.getHeaders().getAuthorization().filter(h -> h.startsWith("Bearer "))
                    .map(h -> h.substring("Bearer ".length()).strip().getBytes(StandardCharsets.UTF_8)).orElse(new byte[0]);
            if (!MessageDigest.isEqual(sent, token)) {
                return Problems.response(Problem.of(ProblemType.UNAUTHORIZED, "Send the metrics token (KEEL_METRICS_TOKEN) as"
                        + " Authorization: Bearer <token>.", request.getPath())).header("WWW-Authenticate", "Bearer realm=\"keel-metrics\"");
            }
        }
        scrapes.record(databases::refresh);
        return HttpResponse.ok(registry.scrape()).contentType(CONTENT_TYPE);
    }

    /**
     * Whether the request came over loopback from Keel's own machine: the peer's own address, never
     * a header a client could write; and one that a proxy forwarded (a forwarding header is there)
     * is not, since behind a proxy on this machine every request arrives over loopback.
     */
    private static boolean fromLoopback(HttpRequest<?> request) {
        InetSocketAddress peer = request.getRemoteAddress();
        boolean forwarded = FORWARDING.stream().anyMatch(request.getHeaders()::contains);
        return !forwarded && peer != null && peer.getAddress() != null && peer.getAddress().isLoopbackAddress();
    }

    /** The headers a proxy adds to what it forwards. */
    private static final List<String> FORWARDING = List.of("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
            "X-Real-IP");
}
