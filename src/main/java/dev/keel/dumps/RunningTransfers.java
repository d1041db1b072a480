package dev.keel.dumps;

import dev.keel.postgres.ClientProcess;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** The client programs of transfers running on this node, so that a cancel can end them at once. */
@Singleton
final class RunningTransfers {
    private final Map<UUID, List<ClientProcess>> processes = new ConcurrentHashMap<>();

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
}
