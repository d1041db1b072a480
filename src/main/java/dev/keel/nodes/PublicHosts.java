package dev.keel.nodes;

import dev.keel.Network;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The host name a client reaches a node's Postgres servers (and poolers) by, for the connection
 * URLs any node hands out: this node's own {@code KEEL_PUBLIC_HOST}, or the one another node
 * recorded in the registry at its start. Another node's is read at most every few seconds.
 */
@Singleton
public final class PublicHosts {
    private static final long FRESH_NANOS = 5_000_000_000L;

    private final NodeRepository nodes;
    private final ThisNode node;
    private final Network network;
    private final Map<String, Known> known = new ConcurrentHashMap<>();

    private record Known(String host, long readAt) {
    }

    PublicHosts(NodeRepository nodes, ThisNode node, Network network) {
        this.nodes = nodes;
        this.node = node;
        this.network = network;
    }

    /**
     * Where the servers of node {@code name} are reached: this node's public host for its own (and
     * for rows that name no node), else what that node recorded (this node's, should it have recorded none).
     */
    public String of(@Nullable String name) {
        if (name == null || name.equals(node.name())) {
            return network.publicHost();
        }
        long now = System.nanoTime();
        Known cached = known.get(name);
        if (cached != null && now - cached.readAt() < FRESH_NANOS) {
            return cached.host();
        }
        String host = nodes.publicHost(name).orElse(network.publicHost());
        known.put(name, new Known(host, now));
        return host;
    }
}
