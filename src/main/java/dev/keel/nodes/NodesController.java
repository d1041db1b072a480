package dev.keel.nodes;

import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.util.List;

/**
 * {@code /v1/nodes}: the control plane's nodes, for the installation's admin key only: the list,
 * and drain and activate, which stop and resume new placements on a node.
 */
@Controller("/v1/nodes")
@ExecuteOn(TaskExecutors.BLOCKING)
final class NodesController {
    private final Nodes nodes;

    NodesController(Nodes nodes) {
        this.nodes = nodes;
    }

    @Get
    List<NodeView> list(Caller caller) {
        requireAdmin(caller);
        return nodes.list();
    }

    @Post("/{name}/drain")
    NodeView drain(Caller caller, String name) {
        requireAdmin(caller);
        return nodes.drain(name);
    }

    @Post("/{name}/activate")
    NodeView activate(Caller caller, String name) {
        requireAdmin(caller);
        return nodes.activate(name);
    }

    /** Checked before the node is looked up, so that another key learns nothing about nodes. */
    private static void requireAdmin(Caller caller) {
        if (!caller.admin()) {
            throw new KeelException(ProblemType.FORBIDDEN, "Only the installation's admin API key can see and steer nodes.");
        }
    }
}
