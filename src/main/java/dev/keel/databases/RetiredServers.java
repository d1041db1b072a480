package dev.keel.databases;

import dev.keel.instances.Instance;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Decision;
import dev.keel.operations.HostedWork;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Removes a database's server wherever it runs. One this node hosts is stopped and removed at
 * once; one another node hosts is marked deleting in the catalog, so that nothing uses it any
 * more, and that node removes it (a {@code discard} operation, which removes every server of the
 * database it hosts that the catalog marks deleting).
 */
@Singleton
public final class RetiredServers implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(RetiredServers.class);

    private final InstanceRepository instances;
    private final InstanceMaker maker;
    private final HostedWork hostedWork;
    private final OperationRepository operations;
    private final String node;

    RetiredServers(InstanceRepository instances, InstanceMaker maker, HostedWork hostedWork, OperationRepository operations, ThisNode node) {
        this.instances = instances;
        this.maker = maker;
        this.hostedWork = hostedWork;
        this.operations = operations;
        this.node = node.name();
    }

    /** Removes {@code instance}, a server of {@code database}: here, or by the node that hosts it (this returns at once). */
    public void discard(Database database, Instance instance) {
        if (instances.transitionIfPresent(instance.id(), InstanceState.DELETING).isEmpty()) {
            return; // removed meanwhile
        }
        if (hostedWork.otherHost(instance).isEmpty()) {
            maker.discard(instance);
            return;
        }
        Optional<Operation> handed = hostedWork.handOverTo(instance.node(), database.teamId(), database.id(), OperationKind.DISCARD,
                "removing a retired server");
        if (handed.isPresent()) {
            LOG.info("Instance {} of database {} is on node {}, which removes it (operation {})", instance.id(), database.name(),
                    instance.node(), handed.get().id());
        } else {
            LOG.warn("Instance {} of database {} is on node {}, which runs another version of Keel and is not asked to remove it:"
                    + " it stays there, marked deleting in the catalog; stop and remove it on that node by hand", instance.id(),
                    database.name(), instance.node());
        }
    }

    /**
     * Removes every server of {@code database}, and returns once they are gone: those this node
     * hosts at once, those another node hosts by that node (a {@code discard} operation each node,
     * waited for together; a failure or a 503 after the patience is thrown, and the servers stay
     * recorded as deleting). A server whose node cannot take the work (silent, or running another
     * version of Keel) is forgotten by the catalog instead, and logged: that node stops it and sets
     * it aside, as it does with any server no row names ({@code InstanceSweep}): at its next start,
     * or, while its Keel runs on (a partition healed), within two of its sweep's looks once it
     * reaches the catalog again (a node of an older version without the periodic sweep: at its start).
     */
    public void removeAll(Database database) throws InterruptedException {
        Map<String, List<Instance>> elsewhere = new TreeMap<>();
        for (Instance instance : instances.forDatabase(database.id())) {
            if (instances.transitionIfPresent(instance.id(), InstanceState.DELETING).isEmpty()) {
                continue; // removed meanwhile (a standby build that saw the deletion)
            }
            Optional<String> host = hostedWork.otherHost(instance);
            if (host.isPresent()) {
                elsewhere.computeIfAbsent(host.get(), h -> new ArrayList<>()).add(instance);
            } else {
                maker.discard(instance);
            }
        }
        List<HostedWork.Handed> handed = new ArrayList<>();
        for (Map.Entry<String, List<Instance>> host : elsewhere.entrySet()) {
            try {
                handed.add(hostedWork.handOver(host.getKey(), database.teamId(), database.id(), OperationKind.DISCARD, "removing a deleted"
                        + " database's server", "Removing " + database.name() + "'s server"));
            } catch (KeelException e) {
                // Silent, or another version: the catalog forgets its servers, which that node sets aside once it is back.
                for (Instance server : host.getValue()) {
                    LOG.warn("Instance {} of deleted database {} is on node {}, which cannot remove it now ({}): the catalog forgets it,"
                            + " and that node stops it and sets its data aside once it reaches the catalog again (its sweep) or"
                            + " starts (remove it there by hand sooner)", server.id(), database.name(), server.node(), e.getMessage());
                    instances.delete(server.id());
                }
            }
        }
        // A node that is slow or failed keeps its servers' rows, and its discard runs on: the deletion stops here, and runs
        // again when asked again.
        hostedWork.await(handed);
    }

    @Override
    public OperationKind kind() {
        return OperationKind.DISCARD;
    }

    /** No: it removes only servers nothing uses any more, and must not wait behind the work that retired them. */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    @Override
    public void run(Operation operation) {
        int removed = removeHere(operation.databaseId());
        operations.progress(operation.id(), "removed " + removed + " retired server" + (removed == 1 ? "" : "s"), 1, 1);
    }

    /**
     * Removes every server of database {@code databaseId} on this node that the catalog marks
     * deleting (a discard's work, and what a stop left between marking one and removing it); how many.
     */
    public int removeHere(UUID databaseId) {
        int removed = 0;
        for (Instance instance : instances.forDatabase(databaseId)) {
            if (instance.state() == InstanceState.DELETING && node.equals(instance.node())) {
                maker.discard(instance);
                removed++;
            }
        }
        return removed;
    }

    /** Run again: removing what is already gone removes nothing. */
    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "removing the retired servers Keel stopped during");
    }
}
