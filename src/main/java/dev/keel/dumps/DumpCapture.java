package dev.keel.dumps;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.postgres.ClientProcess;
import dev.keel.postgres.ClientTools;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.ObjectUpload;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.json.JsonMapper;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InputStream;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Capturing a logical backup: {@code pg_dump -Fc} of the database's server (its primary, or a
 * follower's own server), its output streamed straight into a multipart upload while counted and
 * hashed (no local file), then a small manifest beside it with the dump's size and sha256. The
 * backup is {@code completed} only once both are stored; a failure or a cancel discards the
 * upload. The plan's retention is applied after each completed backup.
 */
@Singleton
public final class DumpCapture implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DumpCapture.class);
    static final String DUMPING = "dumping";
    private static final Duration EXIT_PATIENCE = Duration.ofMinutes(1);

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ClientTools tools;
    private final DumpClients clients;
    private final ObjectStore store;
    private final TransferRepository transfers;
    private final RunningTransfers running;
    private final DumpRetention retention;
    private final DumpObjects objects;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final JsonMapper json;
    private final DSLContext dsl;

    DumpCapture(DatabaseLookup databases, InstanceRepository instances, InstanceConnections connections, ClientTools tools,
                DumpClients clients, ObjectStore store, TransferRepository transfers, RunningTransfers running, DumpRetention retention,
                DumpObjects objects, OperationRepository operations, OperationRunner runner, JsonMapper json, DSLContext dsl) {
        this.databases = databases;
        this.instances = instances;
        this.connections = connections;
        this.tools = tools;
        this.clients = clients;
        this.store = store;
        this.transfers = transfers;
        this.running = running;
        this.retention = retention;
        this.objects = objects;
        this.operations = operations;
        this.runner = runner;
        this.json = json;
        this.dsl = dsl;
    }

    /**
     * Records a running backup of {@code database} (scheduled when {@code scheduleName} is set) and
     * starts it: a 422 when no {@code pg_dump} here can dump its major, a 409 when one is running.
     */
    public Transfer start(Database database, @Nullable String scheduleName) {
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; a backup needs it available.");
        }
        tools.require("pg_dump", database.major());
        try {
            Transfer transfer = dsl.transactionResult(tx -> {
                Operation operation = operations.create(tx.dsl(), database.teamId(), database.id(), OperationKind.LOGICAL_BACKUP,
                        DUMPING, 1);
                return transfers.insert(tx.dsl(), database.teamId(), TransferKind.BACKUP, database.id(), operation.id(), scheduleName,
                        null, null, null);
            });
            transfers.log(transfer.id(), "backup of " + database.name() + " queued" + (scheduleName == null ? "" : " by schedule "
                    + scheduleName));
            runner.submit(operations.find(database.teamId(), transfer.operationId()).orElseThrow());
            return transfer;
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.BACKUP_RUNNING, "A backup of " + database.name() + " is running already; wait for it"
                    + " (heroku pg:backups) or cancel it (heroku pg:backups:cancel).");
        }
    }

    @Override
    public OperationKind kind() {
        return OperationKind.LOGICAL_BACKUP;
    }

    /** No: pg_dump reads the database for long; a failover does not wait for it (the dump fails and can be asked again). */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Transfer transfer = transfers.forOperation(operation.id()).orElseThrow();
        if (transfer.finished()) {
            return; // canceled before it began
        }
        try {
            Database database = databases.find(transfer.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                    .orElseThrow(() -> new KeelException(ProblemType.CONFLICT, "The database is not available for a backup any more."));
            Written written = dump(operation, transfer, database, DumpLayout.dumpKey(database.id(), transfer.id()));
            store.put(DumpLayout.manifestKey(database.id(), transfer.id()), json.writeValueAsBytes(new DumpManifest(transfer.id().toString(),
                    database.id().toString(), database.major(), written.tool(), written.size(), written.sha256())),
                    Map.of("sha256", written.sha256()));
            if (!transfers.finish(transfer.id(), TransferState.COMPLETED, written.sha256(), null, 0)) {
                removeObjects(transfer);
                throw canceled();
            }
            transfers.log(transfer.id(), "backup completed: " + written.size() + " bytes, sha256 " + written.sha256());
            LOG.info("Logical backup {} of {} completed: {} bytes, sha256 {}", transfer.name(), database.name(), written.size(),
                    written.sha256());
            retention.apply(database);
        } catch (Exception e) {
            removeObjects(transfer);
            boolean canceled = transfers.find(transfer.id()).map(t -> t.state() == TransferState.CANCELED).orElse(true);
            if (canceled) {
                throw canceled();
            }
            String reason = e instanceof KeelException ? e.getMessage()
                    : "The backup failed; Keel's log has the details under operation " + operation.id() + ".";
            transfers.finish(transfer.id(), TransferState.FAILED, null, reason, 0);
            transfers.log(transfer.id(), "backup failed: " + reason);
            throw e;
        }
    }

    record Written(long size, String sha256, String tool) {
    }

    private Written dump(Operation operation, Transfer transfer, Database database, String key) throws Exception {
        Instance server = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no server to dump."));
        ClientTools.Tool pgDump = tools.require("pg_dump", database.major());
        long size;
        try (Connection connection = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            size = DumpSql.databaseSize(connection);
        }
        transfers.progress(transfer.id(), 0, size);
        transfers.log(transfer.id(), "pg_dump " + pgDump.version() + " started on " + database.name() + " (" + size + " bytes)");
        List<String> argv = DumpClients.pgDump(pgDump);
        try (ClientProcess process = clients.start(argv, clients.superuser(server, database.pgDatabase()), ClientProcess.Stream.OUTPUT);
             ObjectUpload upload = store.upload(key, Map.of("format", "pg_dump custom"));
             RunningTransfers.Registration ignored = running.register(transfer.id(), process)) {
            StreamCopy copy = new StreamCopy(done -> {
                transfers.progress(transfer.id(), done, null);
                operations.progress(operation.id(), DUMPING, done, size, "bytes");
            });
            try (InputStream out = process.output()) {
                copy.copy(out, upload.stream());
            }
            int exit = process.waitFor(EXIT_PATIENCE);
            if (exit != 0) {
                throw new KeelException(ProblemType.UNAVAILABLE, "pg_dump failed (exit " + exit + "): " + process.errors());
            }
            if (transfers.find(transfer.id()).map(Transfer::finished).orElse(true)) {
                throw canceled();
            }
            upload.complete();
            transfers.progress(transfer.id(), copy.count(), null);
            operations.progress(operation.id(), "stored", copy.count(), Math.max(size, copy.count()), "bytes");
            return new Written(copy.count(), copy.sha256(), "pg_dump " + pgDump.version());
        }
    }

    private void removeObjects(Transfer transfer) {
        try {
            objects.remove(transfer);
        } catch (RuntimeException e) {
            LOG.warn("Could not remove what backup {} uploaded; retention removes it later", transfer.id(), e);
        }
    }

    private static KeelException canceled() {
        return new KeelException(ProblemType.CONFLICT, "The backup was canceled.");
    }

    /** A backup Keel stopped during is failed and what it uploaded removed: pg_dump died with Keel's session to it. */
    @Override
    public Decision recover(Operation operation) {
        return transfers.forOperation(operation.id()).map(transfer -> {
            String reason = "Keel stopped during this backup; nothing of it is kept. Capture another.";
            transfers.finish(transfer.id(), TransferState.FAILED, null, reason, 0);
            transfers.log(transfer.id(), "backup failed: " + reason);
            removeObjects(transfer);
            return Decision.giveUp(operation, "the logical backup was interrupted and is marked failed");
        }).orElseGet(() -> Decision.giveUp(operation, "abandoning the logical backup: it has no record"));
    }
}
