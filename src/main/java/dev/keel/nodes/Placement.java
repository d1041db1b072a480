package dev.keel.nodes;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.time.temporal.ChronoUnit;

/**
 * Where a new instance may go. Today instances are made on the node that serves the request, so
 * placement is whether this node takes new instances: not while it is drained. Choosing among
 * nodes by free capacity comes with the hand-off of host-bound work to other nodes.
 */
@Singleton
public final class Placement {
    private final NodeRepository nodes;
    private final ThisNode node;

    Placement(NodeRepository nodes, ThisNode node) {
        this.nodes = nodes;
        this.node = node;
    }

    /** Whether this node takes new instances (a warm pool does not fill on a drained node). */
    public boolean open() {
        return nodes.find(node.name()).map(row -> !row.drained()).orElse(true);
    }

    /** A 503 {@code no-capacity} when this node is drained, asked before anything is recorded. */
    public void requireOpen() {
        nodes.find(node.name()).filter(NodeRepository.Row::drained).ifPresent(row -> {
            throw new KeelException(ProblemType.NO_CAPACITY, "Node " + row.name() + " is draining (since "
                    + row.drainedAt().toInstant().truncatedTo(ChronoUnit.SECONDS) + "), so Keel places no new instance on it, and no other"
                    + " node takes one yet; undo it with POST /v1/nodes/" + row.name() + "/activate, then try again. Nothing was created.");
        });
    }
}
