package dev.keel.operations;

import dev.keel.catalog.CatalogListener;
import dev.keel.catalog.CatalogLocation;
import dev.keel.jobs.Loops;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;

/**
 * Where the operations other nodes record for this node arrive ({@link OperationRepository#create}
 * addresses an operation to the node that hosts its database's servers). A thread waits on the
 * catalog's {@value #CHANNEL} channel, which the recording node notifies, and looks every
 * {@code keel.operations.inbox-interval} anyway (a notification sent while this node's session
 * was down is lost), for running operations addressed to this node that its runner does not have,
 * and hands them to it. Started after the {@link Reconciler}, which takes what this node left running.
 */
@Singleton
public final class OperationInbox {
    static final String CHANNEL = "keel_operations";
    private static final Logger LOG = LoggerFactory.getLogger(OperationInbox.class);

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final CatalogListener listener;
    private final int intervalMillis;
    private volatile boolean stopping;
    private Thread thread;

    OperationInbox(OperationRepository operations, OperationRunner runner, CatalogLocation location,
                   @Value("${keel.operations.inbox-interval}") Duration interval) {
        this.operations = operations;
        this.runner = runner;
        this.listener = new CatalogListener(location, CHANNEL);
        this.intervalMillis = (int) Math.max(100, Math.min(Integer.MAX_VALUE, interval.toMillis()));
    }

    public synchronized void start() {
        thread = new Thread(this::listen, "keel-operation-inbox");
        thread.setDaemon(true);
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
                }
            }
        } finally {
            listener.close();
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
