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
