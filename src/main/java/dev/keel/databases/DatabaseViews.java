package dev.keel.databases;

import dev.keel.Network;
import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.instances.InstanceRepository;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import jakarta.inject.Singleton;

/** Assembles {@link DatabaseView}s: the row, the running operation, the primary's URL. */
@Singleton
final class DatabaseViews {
    private final OperationRepository operations;
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final Network network;

    DatabaseViews(OperationRepository operations, InstanceRepository instances, Credentials credentials, Network network) {
        this.operations = operations;
        this.instances = instances;
        this.credentials = credentials;
        this.network = network;
    }

    DatabaseView of(Database db) {
        // The database's own lifecycle; backups and other work report on their own resources.
        DatabaseView.Progress progress = operations.running(db.id(), java.util.EnumSet.of(OperationKind.PROVISION, OperationKind.DEPROVISION))
                .map(op -> new DatabaseView.Progress(op.id(), op.kind().value(), op.step(), op.done(), op.total(), op.unit()))
                .orElse(null);
        String url = db.state() != DatabaseState.AVAILABLE ? null
                : instances.primary(db.id())
                .flatMap(primary -> credentials.url(db.id(), Credential.DEFAULT, db.pgDatabase(), network.publicHost(), primary.port()))
                .map(ConnectionUrl::toString)
                .orElse(null);
        return new DatabaseView(db.id(), db.name(), db.plan(), Integer.toString(db.major()), db.state().value(), db.stateReason(),
                progress, url, db.createdAt(), db.updatedAt());
    }
}
