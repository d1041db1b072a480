package dev.keel.herokuapi;

import io.micronaut.http.HttpRequest;

/** What Keel's answers to the Heroku CLI need from the request itself: the URL the CLI reached Keel at. */
final class HerokuRequests {
    private HerokuRequests() {
    }

    /**
     * {@code https://host:port} as the client named Keel ({@code Host}), with the scheme it used,
     * or the one a TLS-terminating proxy in front reports ({@code X-Forwarded-Proto}); URLs Keel
     * hands out (log sessions, whose URL is a bearer token, and an app's {@code web_url}) then work
     * from where the client stands, and never ask a client that spoke TLS to send a token in clear.
     */
    static String baseUrl(HttpRequest<?> request) {
        String forwarded = request.getHeaders().get("X-Forwarded-Proto");
        String scheme = request.isSecure() || "https".equalsIgnoreCase(forwarded) ? "https" : "http";
        String host = request.getHeaders().get("Host");
        if (host == null || host.isBlank() || !host.matches("[A-Za-z0-9.\\-\\[\\]:]+")) {
            host = request.getServerAddress().getHostString() + ":" + request.getServerAddress().getPort();
        }
        return scheme + "://" + host;
    }
}
