package dev.keel.operations;

import dev.keel.Fatal;
import dev.keel.problems.KeelException;
import io.micronaut.context.BeanProvider;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs operations on a small pool of background threads, one at a time per database (a delete
 * waits for the provision it interrupts). On shutdown it lets running work finish for a while;
 * whatever is cut off stays {@code running} in the catalog for the {@link Reconciler}.
 */
@Singleton
public final class OperationRunner {
    private static final Logger LOG = LoggerFactory.getLogger(OperationRunner.class);
    private static final long SHUTDOWN_PATIENCE_SECONDS = 30;

    // A provider, not a list: handlers submit work to this runner, so they are looked up on use.
    private final BeanProvider<OperationHandler> handlers;
    private final OperationRepository operations;
    private final ExecutorService executor;
    private final Map<UUID, DatabaseLock> databaseLocks = new ConcurrentHashMap<>();

    /** A database's lock and how many operations hold or wait for it; dropped from the map at zero. */
    private static final class DatabaseLock {
        final ReentrantLock lock = new ReentrantLock();
        int users;
    }

    OperationRunner(BeanProvider<OperationHandler> handlers, OperationRepository operations,
                    @Value("${keel.operations.threads}") int threads) {
        this.handlers = handlers;
        this.operations = operations;
        AtomicInteger count = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(threads, r -> {
            Thread thread = new Thread(r, "keel-operation-" + count.incrementAndGet());
            thread.setDaemon(false);
            return thread;
        });
    }

    OperationHandler handler(OperationKind kind) {
        return handlers.stream().filter(h -> h.kind() == kind).findFirst()
                .orElseThrow(() -> new IllegalStateException("no handler for operations of kind " + kind.value()));
    }

    /** Runs {@code operation} in the background. */
    public void submit(Operation operation) {
        executor.execute(() -> run(operation));
    }

    private void run(Operation operation) {
        MDC.put("operation", operation.id().toString());
        if (operation.databaseId() != null) {
            MDC.put("database", operation.databaseId().toString());
        }
        UUID database = operation.databaseId();
        DatabaseLock entry = database == null ? new DatabaseLock() : databaseLocks.compute(database, (id, existing) -> {
            DatabaseLock held = existing == null ? new DatabaseLock() : existing;
            held.users++;
            return held;
        });
        entry.lock.lock();
        try {
            LOG.info("Operation {} started", operation.kind().value());
            handler(operation.kind()).run(operation);
            operations.succeed(operation.id());
            LOG.info("Operation {} succeeded", operation.kind().value());
        } catch (Throwable e) {
            Fatal.haltIfFatal(e);
            String reason = e instanceof KeelException ? e.getMessage()
                    : operation.kind().value() + " failed; Keel's log has the details under operation " + operation.id();
            LOG.error("Operation {} failed", operation.kind().value(), e);
            try {
                operations.fail(operation.id(), reason);
            } catch (RuntimeException recordFailure) {
                LOG.error("Could not record the failure of operation {}", operation.id(), recordFailure);
            }
        } finally {
            entry.lock.unlock();
            if (database != null) {
                databaseLocks.compute(database, (id, held) -> --held.users == 0 ? null : held);
            }
            MDC.clear();
        }
    }

    @PreDestroy
    void shutdown() throws InterruptedException {
        executor.shutdown();
        if (!executor.awaitTermination(SHUTDOWN_PATIENCE_SECONDS, TimeUnit.SECONDS)) {
            LOG.warn("Stopping with operations still running; they resume when Keel starts again");
        }
    }
}
