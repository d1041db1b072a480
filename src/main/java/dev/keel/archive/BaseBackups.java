package dev.keel.archive;

import dev.keel.postgres.ServerSession;
import dev.keel.problems.Failure;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.DataFile;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.WalSegmentName;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.storage.ObjectUpload;
import io.micronaut.context.annotation.Value;
import io.micronaut.json.JsonMapper;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Base backups. {@link #start} records a running backup and its operation; {@link #run} takes it
 * in one superuser session: {@code pg_backup_start}, the data directory streamed as a zstd tar
 * into a multipart upload with each file checksummed, {@code pg_backup_stop} (its
 * {@code backup_label} goes into the tar), the manifest, a WAL switch, and a wait until every
 * segment up to the stop LSN is archived. Only then is the backup {@code completed}; a failure
 * marks it {@code failed} and removes what it uploaded.
 */
@Singleton
public final class BaseBackups implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(BaseBackups.class);
    private static final String COPYING = "copying files";
    private static final String WAITING = "waiting for WAL to be archived";
    private static final long PROGRESS_EVERY_BYTES = 32L * 1024 * 1024;

    private final DatabaseLookup databases;
    private final BackupRepository backups;
    private final ArchiveRepository archive;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final ObjectStore store;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final JsonMapper json;
    private final DSLContext dsl;
    private final int zstdLevel;
    private final int zstdWorkers;
    private final Duration archiveWait;

    BaseBackups(DatabaseLookup databases, BackupRepository backups, ArchiveRepository archive, InstanceRepository instances,
                InstanceRuntime runtime, InstanceConnections connections, ObjectStore store, OperationRepository operations,
                OperationRunner runner, JsonMapper json, DSLContext dsl,
                @Value("${keel.backups.zstd-level:3}") int zstdLevel, @Value("${keel.backups.zstd-workers:2}") int zstdWorkers,
                @Value("${keel.backups.archive-wait:10m}") Duration archiveWait) {
        this.databases = databases;
        this.backups = backups;
        this.archive = archive;
        this.instances = instances;
        this.runtime = runtime;
        this.connections = connections;
        this.store = store;
        this.operations = operations;
        this.runner = runner;
        this.json = json;
        this.dsl = dsl;
        this.zstdLevel = zstdLevel;
        this.zstdWorkers = zstdWorkers;
        this.archiveWait = archiveWait;
    }

    /** Records a running backup of {@code database} and starts it; a 409 when one is running already. */
    public Backup start(Database database, BackupKind kind) {
        try {
            Backup backup = dsl.transactionResult(tx -> {
                Operation operation = operations.create(tx.dsl(), database.teamId(), database.id(), OperationKind.BACKUP, "starting", 1);
                return backups.insert(tx.dsl(), database.id(), operation.id(), kind);
            });
            runner.submit(operations.find(database.teamId(), backup.operationId()).orElseThrow());
            return backup;
        } catch (IntegrityConstraintViolationException e) {
            throw operations.alreadyPending(ProblemType.BACKUP_RUNNING, database.id(), OperationKind.BACKUP, "A backup of " + database.name());
        }
    }

    /**
     * {@link #start}, unless a backup of {@code database} is running already: then nothing is
     * started, and the answer is empty (for work that wants the backup that follows it, not a 409).
     */
    public Optional<Backup> startUnlessRunning(Database database, BackupKind kind) {
        try {
            return Optional.of(start(database, kind));
        } catch (KeelException e) {
            if (e.type() != ProblemType.BACKUP_RUNNING) {
                throw e;
            }
            return Optional.empty();
        }
    }

    /**
     * Takes a backup of {@code database} in the caller's thread, for work that holds the
     * database's operation lock (an upgrade's first backup) and so cannot wait for a queued one;
     * returns it completed, or throws with it failed.
     */
    public Backup takeNow(Database database, BackupKind kind) throws Exception {
        Backup backup = dsl.transactionResult(tx -> {
            Operation operation = operations.createHere(tx.dsl(), database.teamId(), database.id(), OperationKind.BACKUP, "starting", 1);
            return backups.insert(tx.dsl(), database.id(), operation.id(), kind);
        });
        Operation operation = operations.find(database.teamId(), backup.operationId()).orElseThrow();
        try {
            run(operation);
            operations.succeed(operation.id());
        } catch (Exception e) {
            operations.fail(operation.id(), e instanceof KeelException ? e.getMessage() : "The backup failed; see Keel's log.");
            throw e;
        }
        return backups.find(database.id(), backup.id()).orElseThrow();
    }

    @Override
    public OperationKind kind() {
        return OperationKind.BACKUP;
    }

    /** No: a backup reads the primary for long; a failover never waits for it (TimelineBackups takes the next one). */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Backup backup = backups.forOperation(operation.id()).orElseThrow(() -> new KeelException(ProblemType.CONFLICT,
                "The database was deleted before its backup could start."));
        try {
            take(operation, backup);
        } catch (Exception e) {
            Failure failure = Failure.of(e, "The backup failed; Keel's log has the details under operation " + operation.id() + ".");
            backups.failed(backup.id(), failure.reason());
            removeObjects(backup);
            throw e;
        }
    }

    private void take(Operation operation, Backup backup) throws Exception {
        Database database = databases.find(backup.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                .orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE, "The database is not available for a backup."));
        Instance primary = instances.primary(database.id()).orElseThrow();
        try (ServerSession session = connections.open(primary, "postgres")) {
            ServerSession.BackupStart started = session.startBackup(primary.major(), "keel backup " + backup.id());
            backups.started(backup.id(), started.lsn(), started.timeline());
            List<DataFile> files = runtime.dataFiles(primary).stream().filter(BackupFiles::included).toList();
            long total = files.stream().mapToLong(DataFile::size).sum();
            operations.progress(operation.id(), COPYING, 0, total, "bytes");

            BackupWriter.Written written;
            ServerSession.BackupStop stopped;
            String key = ArchiveLayout.backupKey(database.id(), backup.id());
            try (ObjectUpload upload = store.upload(key, Map.of("compression", "zstd", "format", "tar"))) {
                BackupWriter writer = new BackupWriter(upload, zstdLevel, zstdWorkers);
                long reported = 0;
                for (DataFile file : files) {
                    if (file.directory()) {
                        writer.directory(file.path());
                        continue;
                    }
                    try (InputStream in = runtime.openDataFile(primary, file.path())) {
                        writer.file(file.path(), file.size(), in);
                    } catch (NoSuchFileException vanished) {
                        continue; // dropped since it was listed: recovery does not need it
                    }
                    if (writer.bytesWritten() - reported >= PROGRESS_EVERY_BYTES) {
                        reported = writer.bytesWritten();
                        operations.progress(operation.id(), COPYING, reported, total, "bytes");
                    }
                }
                stopped = session.stopBackup(primary.major()); // the server's own major: an upgrade switches servers before it changes the database's
                writer.text("backup_label", stopped.backupLabel());
                if (stopped.tablespaceMap() != null && !stopped.tablespaceMap().isEmpty()) {
                    writer.text("tablespace_map", stopped.tablespaceMap());
                }
                written = writer.finish();
                upload.complete();
            }
            BackupManifest manifest = new BackupManifest(BackupManifest.FORMAT, backup.id().toString(), database.id().toString(),
                    primary.major(), started.lsn().toString(), stopped.lsn().toString(), started.timeline().value(),
                    backup.startedAt().toString(), Instant.now().toString(), written.size(), written.stored(), written.objectSha256(),
                    written.entries());
            store.put(ArchiveLayout.manifestKey(database.id(), backup.id()), json.writeValueAsBytes(manifest),
                    Map.of("sha256", written.objectSha256()));

            operations.progress(operation.id(), WAITING, 0, 1);
            session.switchWal();
            awaitArchived(database.id(), WalSegmentName.containing(started.timeline(), started.lsn()),
                    WalSegmentName.containing(started.timeline(), new Lsn(stopped.lsn().value() - 1)));
            backups.completed(backup.id(), stopped.lsn(), written.size(), written.stored());
            LOG.info("Backup {} completed: {} bytes stored as {}, WAL {} to {}", backup.id(), written.size(), written.stored(),
                    started.lsn(), stopped.lsn());
        }
    }

    /** Waits until every segment from {@code first} to {@code last} is in the archive. */
    private void awaitArchived(UUID database, WalSegmentName first, WalSegmentName last) throws InterruptedException {
        Instant deadline = Instant.now().plus(archiveWait);
        for (WalSegmentName segment = first; segment.compareTo(last) <= 0; segment = segment.next()) {
            while (archive.file(database, segment.toString()).isEmpty()) {
                ArchiveRepository.Status status = archive.status(database);
                if (status.state() == ArchiveState.CONFLICT || Instant.now().isAfter(deadline)) {
                    throw new KeelException(ProblemType.UNAVAILABLE, "WAL segment " + segment + ", which the backup needs, was not archived"
                            + (status.message() == null ? " within " + archiveWait.toMinutes() + " minutes." : ": " + status.message()));
                }
                Thread.sleep(100);
            }
        }
    }

    /**
     * Ends as failed, with {@code reason}, the database's backups still recorded as running whose
     * operations another node ended (their node forgotten while they ran:
     * {@code OperationRepository.giveUpAllOnSilent}), and removes what they uploaded; asked again,
     * it finds what a stop in between left.
     */
    public void abandonOrphans(UUID database, String reason) {
        for (Backup backup : backups.orphaned(database)) {
            backups.failed(backup.id(), reason);
            removeObjects(backup);
        }
    }

    private void removeObjects(Backup backup) {
        String prefix = ArchiveLayout.backupPrefix(backup.databaseId(), backup.id());
        try {
            store.abortIncompleteUploads(prefix);
            store.delete(store.list(prefix).stream().map(ObjectInfo::key).toList());
        } catch (RuntimeException e) {
            LOG.warn("Could not remove what failed backup {} uploaded; retention removes it later", backup.id(), e);
        }
    }

    /**
     * A backup Keel stopped during is failed and what it uploaded removed (its Postgres session
     * ended, which ended the backup on the server); a database left without any completed backup
     * gets a new one at once.
     */
    @Override
    public Decision recover(Operation operation) {
        Optional<Backup> backup = backups.forOperation(operation.id());
        if (backup.isEmpty()) {
            return Decision.giveUp(operation, "abandoning the backup: it has no record");
        }
        String reason = "Keel stopped during this backup (step '" + operation.step() + "'); nothing of it is kept.";
        backups.failed(backup.get().id(), reason);
        removeObjects(backup.get());
        Optional<Database> database = databases.find(backup.get().databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE);
        if (database.isPresent() && backups.completed(database.get().id()).isEmpty()) {
            Backup again = start(database.get(), backup.get().kind());
            return Decision.giveUp(operation, "the backup was interrupted and is marked failed; backup " + again.id()
                    + " replaces it, since the database has no completed backup");
        }
        return Decision.giveUp(operation, "the backup was interrupted and is marked failed");
    }
}
