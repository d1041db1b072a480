package dev.keel.dumps;

import dev.keel.postgres.ClientProcess;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** The client programs of transfers running on this node, so that a cancel can end them at once. */
@Singleton
final class RunningTransfers {
    private final Map<UUID, ClientProcess> processes = new ConcurrentHashMap<>();

    /** A transfer's process, known until the registration is closed. */
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

    Registration register(UUID transfer, ClientProcess process) {
        processes.put(transfer, process);
        return new Registration(transfer);
    }

    /** Kills the transfer's process, if it runs here; says whether it did. */
    boolean kill(UUID transfer) {
        ClientProcess process = processes.get(transfer);
        if (process == null) {
            return false;
        }
        process.kill();
        return true;
    }
}
