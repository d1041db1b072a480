package dev.keel.nodes;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Where a new database's servers go. The node that serves the request takes it while it is not
 * drained; a drained node passes it to the active node (not drained, heartbeating) that hosts the
 * fewest instances, which then makes it (the operation is recorded for that node). The warm pool
 * fills only on a node that is not drained. A provision recorded for a node that was then lost
 * before it began is taken over by the least busy active node ({@code OperationInbox}).
 */
@Singleton
public final class Placement {
    private final NodeRepository nodes;
    private final ThisNode node;

    /** The node chosen for a new database, and whether it is this one. */
    public record Placed(String node, boolean here) {
    }

    Placement(NodeRepository nodes, ThisNode node) {
        this.nodes = nodes;
        this.node = node;
    }

    /** Whether this node takes new instances (a warm pool does not fill on a drained node). */
    public boolean open() {
        return nodes.find(node.name()).map(row -> !row.drained()).orElse(true);
    }

    /**
     * The node a new database goes to, asked before anything is recorded: the least busy active
     * node other than {@code awayFrom} (a follower's leader's) when there is one; else this one
     * unless it is drained, else the least busy active node; a 503 {@code no-capacity} when no
     * node is active.
     */
    public Placed choose(@Nullable String awayFrom) {
        if (awayFrom != null) {
            Optional<String> other = leastBusy(name -> !name.equals(awayFrom));
            if (other.isPresent()) {
                return new Placed(other.get(), other.get().equals(node.name()));
            }
        }
        Optional<NodeRepository.Row> self = nodes.find(node.name());
        if (self.isEmpty() || !self.get().drained()) {
            return new Placed(node.name(), true);
        }
        NodeRepository.Row drained = self.get();
        return leastBusy(name -> true).map(name -> new Placed(name, false))
                .orElseThrow(() -> new KeelException(ProblemType.NO_CAPACITY, "Node " + drained.name() + " is draining (since "
                        + drained.drainedAt().toInstant().truncatedTo(ChronoUnit.SECONDS) + "), so Keel places no new instance on it, and no"
                        + " other node is active to take one; undo it with POST /v1/nodes/" + drained.name() + "/activate, or start"
                        + " another node, then try again. Nothing was created."));
    }

    /** The active node (not drained, heartbeating) that hosts the fewest instances, the first by name among equals. */
    public Optional<String> leastBusy() {
        return leastBusy(name -> true);
    }

    private Optional<String> leastBusy(Predicate<String> eligible) {
        Map<String, Long> hosted = nodes.hosted().stream().collect(Collectors.groupingBy(NodeRepository.Hosted::node, Collectors.counting()));
        return nodes.all().stream()
                .filter(row -> state(row) == NodeState.ACTIVE && eligible.test(row.name()))
                .min(Comparator.comparing((Function<NodeRepository.Row, Long>) row -> hosted.getOrDefault(row.name(), 0L))
                        .thenComparing(NodeRepository.Row::name))
                .map(NodeRepository.Row::name);
    }

    /**
     * Why node {@code name} cannot be handed work now, if it cannot: it is silent (its heartbeat is
     * older than {@code keel.node.lost-after}), or it runs another version of Keel than this node,
     * which may not know the work's kind (during a rolling upgrade).
     */
    public Optional<String> cannotTake(String name) {
        Optional<NodeRepository.Row> row = nodes.find(name);
        if (row.isEmpty()) {
            return Optional.of("node " + name + " is not registered");
        }
        if (Duration.between(row.get().heartbeatAt(), row.get().now()).compareTo(node.lostAfter()) > 0) {
            return Optional.of("node " + name + " has not heartbeat since " + row.get().heartbeatAt().toInstant().truncatedTo(ChronoUnit.SECONDS));
        }
        return otherVersion(name);
    }

    /** Why node {@code name} may not know work this node hands it, if it may not: it runs another version of Keel. */
    public Optional<String> otherVersion(String name) {
        return nodes.find(name).filter(row -> !row.version().equals(node.version()))
                .map(row -> "node " + name + " runs Keel " + row.version() + " and this node " + node.version());
    }

    /** The nodes whose heartbeat is older than {@code keel.node.lost-after}, drained or not. */
    public Set<String> silent() {
        return nodes.all().stream().filter(row -> Duration.between(row.heartbeatAt(), row.now()).compareTo(node.lostAfter()) > 0)
                .map(NodeRepository.Row::name).collect(Collectors.toSet());
    }

    private NodeState state(NodeRepository.Row row) {
        return NodeState.of(row.drained(), Duration.between(row.heartbeatAt(), row.now()), node.lostAfter());
    }
}
