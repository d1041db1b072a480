package dev.keel.addons;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a platform asks to be called back about a resource: an {@code https} URL, or plain
 * {@code http} to this machine's loopback only (a platform on the same host, as in tests). The
 * config var sent there holds a database password, so it never travels in the clear over a
 * network, and a URL carries no credentials of its own.
 */
final class CallbackUrl {
    static final int MAX_LENGTH = 2000;

    private CallbackUrl() {
    }

    /** Why {@code url} may not be called back, or empty when it may. */
    static Optional<String> refusal(String url) {
        if (url.length() > MAX_LENGTH) {
            return Optional.of("is " + url.length() + " characters long; Keel keeps at most " + MAX_LENGTH);
        }
        if (!url.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            return Optional.of("holds a space, a control or a non-ASCII character; percent-encode it");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            return Optional.of("is not a URL");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (uri.getHost() == null || !(scheme.equals("https") || scheme.equals("http"))) {
            return Optional.of("is not an absolute https URL");
        }
        if (uri.getRawUserInfo() != null) {
            return Optional.of("carries credentials; Keel authenticates callbacks with KEEL_ADDON_CALLBACK_TOKEN instead");
        }
        if (scheme.equals("http") && !loopback(uri.getHost())) {
            return Optional.of("is plain http to another host; the config var sent there holds a password, so it must be https"
                    + " (plain http is allowed to this machine's loopback only)");
        }
        return Optional.empty();
    }

    /** {@code url}, when it may be called back; else 422 saying why. */
    static String require(String url) {
        refusal(url).ifPresent(why -> {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"callback_url\" " + why + ": send the https URL Keel should call"
                    + " back when the resource is ready.");
        });
        return url;
    }

    private static boolean loopback(String host) {
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (bare.equalsIgnoreCase("localhost")) {
            return true;
        }
        // Literal addresses only: a name is not resolved, so DNS cannot point it at loopback or away from it.
        if (!bare.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            return false;
        }
        try {
            return InetAddress.getByName(bare).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
