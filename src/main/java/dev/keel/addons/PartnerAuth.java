package dev.keel.addons;

import dev.keel.http.BasicAuthorization;
import dev.keel.problems.Problem;
import dev.keel.problems.ProblemType;
import dev.keel.problems.Problems;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.RequestFilter;
import io.micronaut.http.annotation.ServerFilter;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** Every {@code /heroku} request carries {@code Authorization: Basic base64(<manifest id>:<password>)}; otherwise 401. */
@ServerFilter("/heroku/**")
final class PartnerAuth {
    private final AddonSettings settings;

    PartnerAuth(AddonSettings settings) {
        this.settings = settings;
    }

    @RequestFilter
    @Nullable
    HttpResponse<Problem> authenticate(HttpRequest<?> request) {
        if (settings.password().isEmpty()) {
            return unauthorized(request, "The Add-on Partner API is off: set keel.addon.password (KEEL_ADDON_PASSWORD) to the"
                    + " manifest's password.");
        }
        byte[] expected = (settings.id() + ":" + settings.password()).getBytes(StandardCharsets.UTF_8);
        byte[] given = BasicAuthorization.pair(request.getHeaders().getAuthorization().orElse("")).orElse(new byte[0]);
        if (!MessageDigest.isEqual(expected, given)) {
            return unauthorized(request, "Send the add-on manifest's id and password as Authorization: Basic base64(id:password).");
        }
        return null;
    }

    private static HttpResponse<Problem> unauthorized(HttpRequest<?> request, String detail) {
        return Problems.response(Problem.of(ProblemType.UNAUTHORIZED, detail, request.getPath()))
                .header("WWW-Authenticate", "Basic realm=\"keel add-on\"");
    }
}
