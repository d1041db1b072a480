package dev.keel.auth;

import dev.keel.http.BasicAuthorization;
import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.util.Optional;
import java.util.Set;

/**
 * Authenticates every {@code /v1} request by {@code Authorization: Bearer <api key>}, except the
 * public documents (plans, the CA certificate). A missing or unknown key is 401. The paths of
 * Heroku's Platform and Data APIs (which the Heroku CLI calls) take the key the same way, or as
 * the password of {@code Basic}, as the Heroku CLI sends it to some Data API calls.
 */
@ServerFilter({"/v1/**", "/apps/**", "/addons/**", "/addon-attachments/**", "/actions/**", "/client/**", "/postgres/**", "/account",
        "/account/**", "/users/**", "/teams/**", "/addon-services/**", "/reports/**"})
final class ApiKeyFilter {
    private static final Set<String> PUBLIC = Set.of("/v1/plans", "/v1/ca.pem");
    private static final String BEARER = "Bearer ";

    private final ApiKeys apiKeys;

    ApiKeyFilter(ApiKeys apiKeys) {
        this.apiKeys = apiKeys;
    }

    @RequestFilter
    @ExecuteOn(TaskExecutors.BLOCKING)
    @Nullable
    HttpResponse<Problem> authenticate(HttpRequest<?> request) {
        if (PUBLIC.contains(request.getPath())) {
            return null;
        }
        String header = request.getHeaders().getAuthorization().orElse("");
        Optional<String> basic = BasicAuthorization.password(header);
        if (basic.isPresent() && !request.getPath().startsWith("/v1/")) {
            header = BEARER + basic.get();
        }
        if (!header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return unauthorized(request, "Send an API key as Authorization: Bearer <key>; the admin key of a new installation is in"
                    + " <data dir>/admin-api-key.");
        }
        Optional<Caller> caller = apiKeys.authenticate(header.substring(BEARER.length()).strip());
        if (caller.isEmpty()) {
            return unauthorized(request, "The API key is not valid (unknown or revoked); create a new one with POST /v1/api-keys.");
        }
        request.setAttribute(Caller.ATTRIBUTE, caller.get());
        return null;
    }

    private static HttpResponse<Problem> unauthorized(HttpRequest<?> request, String detail) {
        return Problems.response(Problem.of(ProblemType.UNAUTHORIZED, detail, request.getPath()))
                .header("WWW-Authenticate", "Bearer realm=\"keel\"");
    }
}
