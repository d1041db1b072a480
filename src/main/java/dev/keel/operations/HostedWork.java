package dev.keel.operations;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/**
 * Work that a request answers only once it is done, on a database whose servers another node
 * hosts (a settings change, say): recorded as an operation, which {@link OperationRepository#create}
 * addresses to that node and the catalog hands over, then waited for, so that the request answers
 * as if the work had been done where it was asked.
 */
@Singleton
public final class HostedWork {
    static final long PATIENCE_SECONDS = 30;
    private static final Duration PATIENCE = Duration.ofSeconds(PATIENCE_SECONDS);
    private static final long POLL_MILLIS = 50;

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DSLContext dsl;

    HostedWork(OperationRepository operations, OperationRunner runner, DSLContext dsl) {
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    /**
     * Records an operation of {@code kind} on the database for the node hosting its servers and
     * returns once it has succeeded; its failure is thrown as that node met it, and a 503 names the
     * operation when it has not ended within {@value #PATIENCE_SECONDS} s (it still runs once that node can).
     */
    public void carryOut(UUID teamId, UUID databaseId, OperationKind kind, String step) throws InterruptedException {
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), teamId, databaseId, kind, step, 1));
        runner.submit(operation);
        Instant deadline = Instant.now().plus(PATIENCE);
        while (Instant.now().isBefore(deadline)) {
            Operation now = operations.find(teamId, operation.id()).orElseThrow();
            if (now.state() == OperationState.SUCCEEDED) {
                return;
            }
            if (now.state() == OperationState.FAILED) {
                throw new KeelException(now.errorCode() == null ? ProblemType.INTERNAL : ProblemType.forSlug(now.errorCode())
                        .orElse(ProblemType.INTERNAL), now.error() == null ? "Node " + now.node() + " could not do it." : now.error());
            }
            Thread.sleep(POLL_MILLIS);
        }
        throw new KeelException(ProblemType.UNAVAILABLE, "Node " + operation.node() + ", which hosts the database's server, has not done"
                + " this within " + PATIENCE_SECONDS + " s; it does once it can, and GET /v1/operations/" + operation.id()
                + " follows it.").with("operation_id", operation.id().toString());
    }
}
