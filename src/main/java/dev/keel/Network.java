package dev.keel;

import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where things listen and how clients name them. {@code KEEL_BIND} is the address of the API and
 * of every instance; {@code KEEL_PUBLIC_HOST} is the name put into connection URLs and server
 * certificates (default: the bind address, or this machine's host name when binding to all).
 * {@code KEEL_NODES_NETWORK} is the network (a CIDR) the Keel nodes sharing a catalog reach each
 * other's servers from: Keel's own logins and replication are accepted from there as well as
 * from this node's address.
 */
@Singleton
public final class Network {
    private static final Pattern CIDR = Pattern.compile("((?:25[0-5]|2[0-4]\\d|1?\\d?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:]*)"
            + "/(\\d{1,3})");

    private final String bind;
    private final String publicHost;
    private final String nodesNetwork;

    Network(@Value("${keel.bind}") String bind, @Value("${keel.public-host}") String publicHost,
            @Value("${keel.nodes-network:}") String nodesNetwork) {
        this.bind = bind;
        this.publicHost = !publicHost.isBlank() ? publicHost : isWildcard(bind) ? hostName() : bind;
        this.nodesNetwork = nodesNetwork.strip();
        if (!this.nodesNetwork.isEmpty() && !isNodesNetwork(this.nodesNetwork)) {
            throw new StartupException("KEEL_NODES_NETWORK '" + this.nodesNetwork + "' is not a network of Keel nodes: give the one the"
                    + " nodes share as a CIDR of at least /8 (IPv4) or /16 (IPv6), such as 10.0.0.0/24 or fd00::/64, holding only Keel"
                    + " nodes, or leave it unset for one node.");
        }
    }

    /** A literal address and a prefix that fits it, no wider than /8 (IPv4) or /16 (IPv6): never the whole internet. */
    private static boolean isNodesNetwork(String cidr) {
        Matcher parts = CIDR.matcher(cidr);
        if (!parts.matches()) {
            return false;
        }
        try {
            // A literal address only (four numbers to 255, or a form with a colon): parsed without a name lookup.
            byte[] address = InetAddress.getByName(parts.group(1)).getAddress();
            int prefix = Integer.parseInt(parts.group(2));
            return address.length == 4 ? prefix >= 8 && prefix <= 32 : prefix >= 16 && prefix <= 128;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /**
     * Where Keel's own logins and replication connections to an instance may come from, as
     * pg_hba addresses: this node's address, and the nodes' network when one is configured.
     */
    public List<String> keelSources() {
        String own = localHost() + (localHost().contains(":") ? "/128" : "/32");
        return nodesNetwork.isEmpty() ? List.of(own) : List.of(own, nodesNetwork);
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
