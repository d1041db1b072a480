package dev.keel.operations;

import dev.keel.instances.Instance;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Work on a database's server that another node hosts, done by that node: recorded as an
 * operation addressed to it, which the catalog hands over ({@link OperationInbox}). A request can
 * wait for its end ({@link #carryOut}), so that it answers as if the work had been done where it
 * was asked; other work only hands it over ({@link #handOverTo}).
 */
@Singleton
public final class HostedWork {
    public static final long PATIENCE_SECONDS = 30;
    private static final Duration PATIENCE = Duration.ofSeconds(PATIENCE_SECONDS);
    private static final long POLL_MILLIS = 200;

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final Placement placement;
    private final DSLContext dsl;
    private final String node;

    HostedWork(OperationRepository operations, OperationRunner runner, Placement placement, DSLContext dsl, ThisNode node) {
        this.node = node.name();
        this.operations = operations;
        this.runner = runner;
        this.placement = placement;
        this.dsl = dsl;
    }

    /** The node hosting {@code server} when it is another than this one (a server from before nodes were recorded is this node's). */
    public Optional<String> otherHost(Instance server) {
        return Optional.ofNullable(server.node()).filter(host -> !host.equals(node));
    }

    /**
     * A 503 saying that nothing was changed, when node {@code node} cannot take work now (silent,
     * or another version of Keel): asked before a request stores anything.
     */
    public void requireTaker(String node, String what) {
        Optional<String> why = placement.cannotTake(node);
        if (why.isPresent()) {
            throw new KeelException(ProblemType.UNAVAILABLE, what + " is done by node " + node + ", which hosts the database's server,"
                    + " and " + why.get() + "; nothing was changed. Try again once it is back, or ask node " + node + " itself.");
        }
    }

    /**
     * Records an operation of {@code kind} on the database for node {@code node} and tells that
     * node; returns it. Empty when that node runs another version of Keel, which may not know the
     * kind (the operation would stop its inbox): the caller says what is left undone. A silent
     * node takes it when it returns.
     */
    public Optional<Operation> handOverTo(String node, UUID teamId, UUID databaseId, OperationKind kind, String step) {
        if (placement.otherVersion(node).isPresent()) {
            return Optional.empty();
        }
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), teamId, databaseId, kind, step, 1, node));
        runner.submit(operation);
        return Optional.of(operation);
    }

    /** An operation handed to another node, and what it does in words (for the sentence of a failure). */
    public record Handed(Operation operation, String node, String what) {
    }

    /**
     * As {@link #handOverTo}, to a node that can take it now ({@link #requireTaker}, a 503 before
     * anything is recorded otherwise); {@link #await} waits for its end.
     */
    public Handed handOver(String node, UUID teamId, UUID databaseId, OperationKind kind, String step, String what) {
        requireTaker(node, what);
        Operation operation = handOverTo(node, teamId, databaseId, kind, step).orElseThrow(() -> new KeelException(
                ProblemType.UNAVAILABLE, what + " is done by node " + node + ", which runs another version of Keel now; try again."));
        return new Handed(operation, node, what);
    }

    /**
     * Returns once every one of {@code handed} has succeeded, waited for together, within
     * {@value #PATIENCE_SECONDS} s for each (a node runs a few at a time). A failure is thrown as
     * its node met it, after what it was; a 503 names the first operation that has not ended in time
     * (it still runs once its node can).
     */
    public void await(List<Handed> handed) throws InterruptedException {
        Instant deadline = Instant.now().plus(PATIENCE.multipliedBy(Math.max(1, handed.size())));
        List<Handed> left = new ArrayList<>(handed);
        while (!left.isEmpty() && Instant.now().isBefore(deadline)) {
            for (Iterator<Handed> each = left.iterator(); each.hasNext(); ) {
                Handed one = each.next();
                Operation now = operations.find(one.operation().teamId(), one.operation().id()).orElseThrow();
                if (now.state() == OperationState.SUCCEEDED) {
                    each.remove();
                } else if (now.state() == OperationState.FAILED) {
                    throw new KeelException(now.errorCode() == null ? ProblemType.INTERNAL : ProblemType.forSlug(now.errorCode())
                            .orElse(ProblemType.INTERNAL), handed.size() == 1 ? why(one, now) : one.what() + ": " + why(one, now));
                }
            }
            if (!left.isEmpty()) {
                Thread.sleep(POLL_MILLIS);
            }
        }
        if (!left.isEmpty()) {
            Handed late = left.get(0);
            throw new KeelException(ProblemType.UNAVAILABLE, late.what() + " is stored, and node " + late.node() + ", which hosts the"
                    + " database's server, has not applied it within " + PATIENCE_SECONDS * Math.max(1, handed.size()) + " s; it does once it"
                    + " can, and"
                    + " GET /v1/operations/" + late.operation().id() + " follows it.").with("operation_id", late.operation().id().toString());
        }
    }

    private static String why(Handed one, Operation failed) {
        return failed.error() == null ? "Node " + one.node() + " could not do it; its log says why." : failed.error();
    }

    /** {@link #handOver}, then {@link #await} its end. */
    public void carryOut(String node, UUID teamId, UUID databaseId, OperationKind kind, String step, String what)
            throws InterruptedException {
        await(List.of(handOver(node, teamId, databaseId, kind, step, what)));
    }
}
