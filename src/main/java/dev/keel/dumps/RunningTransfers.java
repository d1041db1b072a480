package dev.keel.dumps;

import dev.keel.DaemonThreads;
import dev.keel.jobs.Loops;
import dev.keel.postgres.ClientProcess;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The client programs of transfers running on this node, so that a cancel can end them at once: a
 * cancel asked of this node kills them itself, and one asked of another node (which only records
 * it in the catalog) is found here within a second ({@link #CANCEL_CHECK_MILLIS}).
 */
@Singleton
final class RunningTransfers {
    private static final Logger LOG = LoggerFactory.getLogger(RunningTransfers.class);
    static final long CANCEL_CHECK_MILLIS = 1000;

    private final Map<UUID, List<ClientProcess>> processes = new ConcurrentHashMap<>();
    private final TransferRepository transfers;
    private final ScheduledExecutorService checker = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-transfer-cancels"));

    RunningTransfers(TransferRepository transfers) {
        this.transfers = transfers;
        checker.scheduleWithFixedDelay(() -> Loops.round("Looking for canceled transfers", this::killCanceled), CANCEL_CHECK_MILLIS,
                CANCEL_CHECK_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** A transfer's processes (a copy's pg_dump and pg_restore), known until the registration is closed. */
    final class Registration implements AutoCloseable {
        private final UUID transfer;

        private Registration(UUID transfer) {
            this.transfer = transfer;
        }

        @Override
        public void close() {
            processes.remove(transfer);
        }
    }

    Registration register(UUID transfer, ClientProcess... running) {
        processes.put(transfer, List.of(running));
        return new Registration(transfer);
    }

    /** Kills the transfer's processes, if they run here; says whether it did. */
    boolean kill(UUID transfer) {
        List<ClientProcess> running = processes.get(transfer);
        if (running == null) {
            return false;
        }
        running.forEach(ClientProcess::kill);
        return true;
    }

    /** Kills what runs here of the transfers the catalog says were canceled (through any node). */
    void killCanceled() {
        if (processes.isEmpty()) {
            return;
        }
        Set<UUID> canceled = transfers.canceled(Set.copyOf(processes.keySet()));
        for (UUID transfer : canceled) {
            List<ClientProcess> running = processes.remove(transfer);
            if (running != null) {
                running.forEach(ClientProcess::kill);
                LOG.info("Transfer {} was canceled: its processes on this node are stopped", transfer);
            }
        }
    }

    @PreDestroy
    void stop() {
        checker.shutdownNow();
    }
}
