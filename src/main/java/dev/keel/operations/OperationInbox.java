package dev.keel.operations;

import dev.keel.DaemonThreads;
import dev.keel.catalog.CatalogListener;
import dev.keel.catalog.CatalogLocation;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.jobs.Loops;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Where the operations other nodes record for this node arrive ({@link OperationRepository#create}
 * addresses an operation to the node that hosts its database's servers). A thread waits on the
 * catalog's {@value #CHANNEL} channel, which the recording node notifies, and looks every
 * {@code keel.operations.inbox-interval} anyway (a notification sent while this node's session
 * was down is lost), for running operations addressed to this node that its runner does not have,
 * and hands them to it. Started after the {@link Reconciler}, which takes what this node left running.
 *
 * <p>Each look also takes over, when this node is the least busy active one, the provisions (and
 * restores into a new database) recorded for a node that fell silent before beginning them: they
 * made nothing on that node, so they can be made here (and the delete of such a database, which
 * has no server). When this node hosts a database's primary that a failover moved here, it also
 * takes over the backups, plan changes and settings changes another node recorded for the silent
 * one ({@link OperationRepository#FOLLOWS_THE_PRIMARY}). One whose node began it waits for that
 * node to return, as its servers, half made, are there.
 */
@Singleton
public final class OperationInbox {
    static final String CHANNEL = "keel_operations";
    private static final Logger LOG = LoggerFactory.getLogger(OperationInbox.class);

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final Placement placement;
    private final InstanceRepository instances;
    private final String node;
    private final CatalogListener listener;
    private final int intervalMillis;
    private volatile boolean stopping;
    private Thread thread;

    OperationInbox(OperationRepository operations, OperationRunner runner, CatalogLocation location, Placement placement,
                   InstanceRepository instances, ThisNode node, @Value("${keel.operations.inbox-interval}") Duration interval) {
        this.placement = placement;
        this.instances = instances;
        this.node = node.name();
        this.operations = operations;
        this.runner = runner;
        this.listener = new CatalogListener(location, CHANNEL);
        this.intervalMillis = (int) Math.max(100, Math.min(Integer.MAX_VALUE, interval.toMillis()));
    }

    public synchronized void start() {
        thread = DaemonThreads.daemon(this::listen, "keel-operation-inbox");
        thread.start();
    }

    private void listen() {
        boolean reached = true;
        try {
            while (!stopping) {
                try {
                    listener.await(intervalMillis);
                    if (!reached) {
                        LOG.info("The operation inbox reaches the catalog again");
                        reached = true;
                    }
                } catch (SQLException e) {
                    if (stopping) {
                        return;
                    }
                    if (reached) {
                        LOG.warn("The operation inbox cannot reach the catalog ({}); it tries again every {} ms", e.getMessage(),
                                intervalMillis);
                        reached = false;
                    }
                    pause();
                }
                if (!stopping && reached) {
                    Loops.round("Collecting the operations handed to this node",
                            () -> operations.handedHere(runner.accepted()).forEach(runner::submit));
                    Loops.round("Taking over what silent nodes never began", this::takeOverStranded);
                }
            }
        } finally {
            listener.close();
        }
    }

    private void takeOverStranded() {
        Set<String> silent = new HashSet<>(placement.silent());
        silent.remove(node);
        if (silent.isEmpty()) {
            return;
        }
        // One a look: the next look asks again which node is least busy, once this one's new server counts, so that a
        // backlog spreads over the nodes.
        for (OperationRepository.Stranded one : operations.neverBegunOn(silent)) {
            Operation stranded = one.operation();
            // A delete needs no room; the making of a database goes to the node with room for it; work on the primary to the
            // node that hosts it now. Chosen among the nodes that know the migrations its writer knew (a rolling upgrade).
            Optional<Operation> taken = switch (stranded.kind()) {
                case DEPROVISION -> placement.leastBusy(one.writerMigration()).filter(node::equals).isPresent()
                        ? operations.takeOver(stranded.id(), stranded.node()) : Optional.empty();
                // Chosen and moved under the placement lock: its servers then count on this node for the next request.
                case PROVISION, RESTORE -> placement.takeOver(stranded.databaseId(), one.writerMigration(),
                        tx -> operations.takeOver(tx, stranded.id(), stranded.node()));
                default -> OperationRepository.FOLLOWS_THE_PRIMARY.contains(stranded.kind())
                        && instances.primary(stranded.databaseId()).map(Instance::node).filter(node::equals).isPresent()
                        ? operations.takeOver(stranded.id(), stranded.node()) : Optional.empty();
            };
            if (taken.isPresent()) {
                LOG.warn("Took over operation {} {} of database {} from node {}, silent since before it began it", stranded.kind().value(),
                        stranded.id(), stranded.databaseId(), stranded.node());
                runner.submit(taken.get());
                return;
            }
        }
    }

    private void pause() {
        try {
            Thread.sleep(intervalMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        }
    }

    @PreDestroy
    void stop() throws InterruptedException {
        stopping = true;
        listener.close(); // ends the wait under way
        Thread running;
        synchronized (this) {
            running = thread;
        }
        if (running != null) {
            running.interrupt();
            running.join(2000);
        }
    }
}
