package dev.keel.dataclips;

import dev.keel.auth.Caller;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

/** {@code /v1/dataclips/{id}/share}: share (a URL with an unguessable slug), show whether and how it is used, revoke. */
@Controller("/v1/dataclips/{id}/share")
@ExecuteOn(TaskExecutors.BLOCKING)
final class ShareController {
    private final Shares shares;

    ShareController(Shares shares) {
        this.shares = shares;
    }

    @Post
    HttpResponse<DataclipView.ShareView> share(Caller caller, String id, HttpRequest<?> request) {
        return HttpResponse.created(view(shares.share(caller, id), request));
    }

    @Get
    DataclipView.ShareView show(Caller caller, String id, HttpRequest<?> request) {
        return view(shares.status(caller, id), request);
    }

    @Delete
    DataclipView.ShareView revoke(Caller caller, String id, HttpRequest<?> request) {
        return view(shares.revoke(caller, id), request);
    }

    private static DataclipView.ShareView view(Dataclip clip, HttpRequest<?> request) {
        String url = clip.slug() == null ? null : baseUrl(request) + "/dataclips/" + clip.slug();
        return new DataclipView.ShareView(clip.slug() != null, url, clip.sharedAt(), clip.lastAccessedAt(), clip.accessCount());
    }

    /** The scheme and host the caller reached Keel by (a TLS-terminating proxy's, when it says so). */
    private static String baseUrl(HttpRequest<?> request) {
        String scheme = request.getHeaders().get("X-Forwarded-Proto", String.class).orElse(request.isSecure() ? "https" : "http");
        String host = request.getHeaders().get("X-Forwarded-Host", String.class)
                .or(() -> request.getHeaders().get("Host", String.class))
                .orElse(request.getServerAddress().getHostString() + ":" + request.getServerAddress().getPort());
        return scheme + "://" + host;
    }
}
