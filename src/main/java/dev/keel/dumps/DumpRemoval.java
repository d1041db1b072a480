package dev.keel.dumps;

import dev.keel.databases.DatabaseRemoving;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.inject.Singleton;

import java.util.List;

/**
 * A deleted database's logical backups, restores into it and schedule: running ones are stopped,
 * stored dumps removed, then the rows. The database's prefix in the store goes with its archive.
 */
@Singleton
final class DumpRemoval implements ApplicationEventListener<DatabaseRemoving> {
    private final TransferRepository transfers;
    private final DumpObjects objects;
    private final DumpSchedules schedules;
    private final RunningTransfers running;

    DumpRemoval(TransferRepository transfers, DumpObjects objects, DumpSchedules schedules, RunningTransfers running) {
        this.transfers = transfers;
        this.objects = objects;
        this.schedules = schedules;
        this.running = running;
    }

    @Override
    public void onApplicationEvent(DatabaseRemoving event) {
        for (Transfer transfer : transfers.ofDatabases(List.of(event.databaseId()))) {
            if (!transfer.finished() && transfers.finish(transfer.id(), TransferState.CANCELED, null, "the database was deleted", 0)) {
                running.kill(transfer.id());
            }
            if (transfer.kind() == TransferKind.BACKUP) {
                objects.remove(transfer);
            }
        }
        schedules.deleteAll(event.databaseId());
        transfers.deleteAll(event.databaseId());
    }
}
