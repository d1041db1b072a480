package dev.keel.nodes;

import dev.keel.Network;
import dev.keel.StartupException;
import dev.keel.catalog.CatalogSchema;
import dev.keel.catalog.NodeLock;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * This node's entry in the registry at start: refuses to join a catalog that is another node's
 * embedded one (it would vanish with that node's data directory), then records the node and gives
 * it the instances no node holds. Runs after the node lock is held, so no live node of this name
 * exists: a fresh row of this name is a predecessor that died, and is taken over.
 */
@Singleton
public final class NodeRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(NodeRegistry.class);

    private final NodeRepository nodes;
    private final ThisNode node;
    private final Network network;
    private final CatalogSchema schema;

    NodeRegistry(NodeRepository nodes, ThisNode node, Network network, CatalogSchema schema) {
        this.nodes = nodes;
        this.node = node;
        this.network = network;
        this.schema = schema;
    }

    /** Refuses, before anything is written, a start that would join another node's embedded catalog. */
    public void checkJoin() {
        if (node.embeddedCatalog()) {
            return;
        }
        nodes.embeddedOwnerOtherThan(node.name()).ifPresent(owner -> {
            throw new StartupException("this catalog belongs to node " + owner.name() + ": " + NodeLock.JOIN_EMBEDDED
                    + ". Nothing was changed.");
        });
    }

    /**
     * Records this node as started, with the host name its servers are reached by. On its own embedded catalog a node is the only one there ever
     * is, so it also takes over the rows of names it ran under before (a renamed host).
     */
    public void register() {
        nodes.register(node, network.publicHost(), schema.known(), node.embeddedCatalog());
        warnOfOrphans();
    }

    /**
     * A node looks after only the instances that name it: after a rename (the default name is
     * the host name, which a new container changes) the old name's instances would be nobody's.
     * Says so for every node without a heartbeat that still hosts instances.
     */
    private void warnOfOrphans() {
        Map<String, Long> hosted = nodes.hosted().stream().collect(Collectors.groupingBy(NodeRepository.Hosted::node, Collectors.counting()));
        for (NodeRepository.Row row : nodes.all()) {
            Duration silent = row.silence();
            if (!row.name().equals(node.name()) && hosted.containsKey(row.name())
                    && row.state(node) != NodeState.ACTIVE) {
                LOG.warn("Node {} hosts {} instances and has not heartbeat for {} s: nothing looks after them until it runs again. If"
                        + " this node is {} under a new name, stop it and start it with KEEL_NODE_NAME={}.", row.name(),
                        hosted.get(row.name()), silent.toSeconds(), row.name(), row.name());
            }
        }
    }
}
