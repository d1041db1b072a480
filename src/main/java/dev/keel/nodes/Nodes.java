package dev.keel.nodes;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.jooq.DSLContext;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.stream.Collectors;

/** The registry as operators see and steer it: every node with its state and instances; drain, activate and forget. */
@Singleton
public final class Nodes {
    private final NodeRepository nodes;
    private final ThisNode node;
    private final PlanFootprint memory;

    Nodes(NodeRepository nodes, ThisNode node, PlanFootprint memory) {
        this.memory = memory;
        this.nodes = nodes;
        this.node = node;
    }

    /** The API URL node {@code name} recorded (its {@code address}), if it is registered and has one. */
    public Optional<String> address(String name) {
        return nodes.find(name).map(NodeRepository.Row::apiUrl);
    }

    public List<NodeView> list() {
        Map<String, List<NodeRepository.Hosted>> hosted = nodes.hosted().stream().collect(Collectors.groupingBy(NodeRepository.Hosted::node));
        return nodes.all().stream().map(row -> view(row, hosted.getOrDefault(row.name(), List.of()))).toList();
    }

    /** Stops new placements on node {@code name}; what it hosts keeps running. A 404 for an unknown node. */
    public NodeView drain(String name) {
        return view(nodes.drain(name, true).orElseThrow(() -> KeelException.notFound("node", name)));
    }

    /** Node {@code name} as listed; a 404 for an unknown node. */
    public NodeView find(String name) {
        return view(nodes.find(name).orElseThrow(() -> KeelException.notFound("node", name)));
    }

    /**
     * Marks node {@code name} forgotten in transaction {@code tx}, which goes on to make its
     * databases' primaries anew elsewhere: only another node than this one, silent past
     * {@code KEEL_NODE_LOST_AFTER} by the catalog's clock (a 404 for an unknown node, a 409 otherwise,
     * saying why). The check and the mark are one statement, so a node that heartbeats meanwhile is not forgotten.
     */
    public void forget(DSLContext tx, String name) {
        NodeRepository.Row row = nodes.find(tx, name).orElseThrow(() -> KeelException.notFound("node", name));
        if (name.equals(node.name())) {
            throw new KeelException(ProblemType.CONFLICT, "Node " + name + " is the node asked, which runs; ask another node to forget"
                    + " it once it is stopped for good.");
        }
        if (!nodes.forget(tx, name, node.lost())) {
            Duration age = row.silence();
            throw new KeelException(ProblemType.NODE_NOT_LOST, "Node " + name + " heartbeat " + Math.max(0, age.toSeconds())
                    + " s ago, so it is not lost (KEEL_NODE_LOST_AFTER is " + node.lostAfter().toSeconds() + " s) and its databases may"
                    + " still take writes; forgetting it would split them in two. Stop its Keel and its Postgres servers (or its"
                    + " host), wait until GET /v1/nodes shows it lost, and ask again.");
        }
    }

    /** Undoes {@link #drain}. */
    public NodeView activate(String name) {
        return view(nodes.drain(name, false).orElseThrow(() -> KeelException.notFound("node", name)));
    }

    private NodeView view(NodeRepository.Row row) {
        return view(row, nodes.hosted().stream().filter(h -> h.node().equals(row.name())).toList());
    }

    private NodeView view(NodeRepository.Row row, List<NodeRepository.Hosted> hosted) {
        Duration age = row.silence();
        int total = row.portLast() - row.portFirst() + 1;
        return new NodeView(row.name(), row.apiUrl(), row.version(), row.state(node).value(),
                row.heartbeatAt(), Math.max(0, age.toSeconds()), row.startedAt(), row.drainedAt(), row.forgottenAt(),
                new NodeView.Capacity(new NodeView.Ports(row.portFirst() + "-" + row.portLast(), total, Math.max(0, total - hosted.size())),
                        row.memoryBudgetMb(), Placement.reservedMb(hosted, memory),
                        row.diskBudgetMb(), row.diskFreeMb(), row.diskUsedMb()),
                hosted.stream().map(h -> new NodeView.HostedInstance(h.id(), h.databaseId(), h.database(), h.role(), h.state())).toList());
    }
}
