package dev.keel;

import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Where things listen and how clients name them. {@code KEEL_BIND} is the address of the API and
 * of every instance; {@code KEEL_PUBLIC_HOST} is the name put into connection URLs and server
 * certificates (default: the bind address, or this machine's host name when binding to all).
 */
@Singleton
public final class Network {
    private final String bind;
    private final String publicHost;

    Network(@Value("${keel.bind}") String bind, @Value("${keel.public-host}") String publicHost) {
        this.bind = bind;
        this.publicHost = !publicHost.isBlank() ? publicHost : isWildcard(bind) ? hostName() : bind;
    }

    /** The address instances listen on ({@code listen_addresses}). */
    public String bind() {
        return bind;
    }

    /** The address Keel itself uses to reach an instance on this machine. */
    public String localHost() {
        return isWildcard(bind) ? "127.0.0.1" : bind;
    }

    public String publicHost() {
        return publicHost;
    }

    /** Whether the bind address is a wildcard (every address of this machine). */
    public boolean bindsAll() {
        return isWildcard(bind);
    }

    /**
     * Whether the API is reachable from beyond this machine's loopback, and so speaks only HTTPS:
     * API keys and connection URLs travel in it.
     */
    public boolean apiTls() {
        if (isWildcard(bind)) {
            return true;
        }
        try {
            return !InetAddress.getByName(bind).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return true;
        }
    }

    /** The API's base URL as clients name it: https beyond loopback. */
    public String apiUrl(int port) {
        String host = publicHost.contains(":") && !publicHost.startsWith("[") ? "[" + publicHost + "]" : publicHost;
        return (apiTls() ? "https" : "http") + "://" + host + ":" + port;
    }

    private static boolean isWildcard(String address) {
        return address.equals("0.0.0.0") || address.equals("::") || address.equals("*");
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getCanonicalHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
