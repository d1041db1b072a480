package dev.keel.operations;

import dev.keel.nodes.ThisNode;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.ArrayList;
import java.util.List;

/**
 * At start, settles every operation this node left running when it stopped or crashed: each
 * handler removes what was half made and decides (a {@link Decision}) to resume, retry from the
 * start, or give up. Other nodes' operations are theirs to settle. First it gives up the
 * database leases this node held when it stopped.
 */
@Singleton
public final class Reconciler {
    private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DatabaseLeases leases;
    private final String node;
    private final String version;

    Reconciler(OperationRepository operations, OperationRunner runner, DatabaseLeases leases, ThisNode node) {
        this.operations = operations;
        this.runner = runner;
        this.leases = leases;
        this.node = node.name();
        this.version = node.version();
    }

    public List<Decision> reconcile() {
        // What this node's last run held is over: nothing of it acts yet. The work resumed below takes new leases.
        int released = leases.releaseThisNodes();
        if (released > 0) {
            LOG.info("Released {} database leases this node held when it stopped", released);
        }
        List<Decision> decisions = new ArrayList<>();
        List<String> unknown = operations.unknownHere();
        if (!unknown.isEmpty()) {
            LOG.warn("Operations {} are of kinds this version of Keel ({}) does not know: a newer version recorded them for this node."
                    + " They wait, still running, for it to run that version again", unknown, version);
        }
        for (Operation operation : operations.unfinishedHere()) {
            MDC.put("operation", operation.id().toString());
            try {
                if (operation.startedAt() == null && !node.equals(operation.recordedBy())) {
                    // Recorded for this node by another while it was stopped, and never begun: nothing of it is half made, so it
                    // runs as it is. What this node recorded itself is recovered as before (it may have run inline, unmarked).
                    LOG.info("Reconciler: operation {} had not begun; it runs now", operation.kind().value());
                    runner.submit(operation);
                    continue;
                }
                Decision decision = runner.handler(operation.kind()).recover(operation);
                LOG.info("Reconciler decision: {}", decision);
                decisions.add(decision);
                switch (decision.kind()) {
                    case RESUME -> runner.submit(operation);
                    case RETRY -> runner.submit(operations.nextAttempt(operation.id()));
                    case GIVE_UP -> operations.fail(operation.id(), decision.reason());
                    case DONE -> operations.succeed(operation.id());
                }
            } catch (RuntimeException e) {
                LOG.error("Could not recover operation {}; it stays running until the next start", operation.id(), e);
            } finally {
                MDC.remove("operation");
            }
        }
        return decisions;
    }
}
