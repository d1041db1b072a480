package dev.keel.dumps;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
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
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Restoring a logical backup into a database ({@code pg:backups:restore}): a backup of the
 * caller's team (any of its databases), or an https URL of a {@code pg_dump -Fc} file, streamed
 * into {@code pg_restore --clean --if-exists --no-owner --no-acl} connected as the target's owner,
 * so that the restored objects belong to the target's own roles and nothing in the dump runs with
 * more rights than that owner has. Errors pg_restore reports and skips (an extension only a
 * superuser may drop, say) make the restore finish with warnings, as Heroku's do.
 */
@Singleton
public final class DumpRestore implements OperationHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DumpRestore.class);
    static final String RESTORING = "restoring";
    private static final Pattern IGNORED = Pattern.compile("errors ignored on restore: (\\d+)");
    private static final Pattern EXTENSION = Pattern.compile("(?:([a-z_][a-z0-9_]{0,62})\\.)?([a-z_][a-z0-9_-]{0,62})");
    private static final Duration EXIT_PATIENCE = Duration.ofMinutes(10);
    /** The exit status of a program ended by SIGPIPE (128 + 13): pg_dump writing to a pg_restore that quit. */
    private static final int SIGPIPE_EXIT = 141;
    private static final int WARNING_LINES = 5;

    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final ClientTools tools;
    private final DumpClients clients;
    private final DumpSources sources;
    private final TransferRepository transfers;
    private final RunningTransfers running;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DSLContext dsl;
    /** Restores accepted here and not yet run: their source and extensions (a URL may carry a signature, so it is not stored). */
    private final Map<UUID, Request> pending = new ConcurrentHashMap<>();

    DumpRestore(DatabaseLookup databases, InstanceRepository instances, ClientTools tools, DumpClients clients, DumpSources sources,
                TransferRepository transfers, RunningTransfers running, OperationRepository operations, OperationRunner runner,
                DSLContext dsl) {
        this.databases = databases;
        this.instances = instances;
        this.tools = tools;
        this.clients = clients;
        this.sources = sources;
        this.transfers = transfers;
        this.running = running;
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    private record Request(DumpSources.Source source, List<String> extensions) {
    }

    /**
     * Accepts a restore of {@code backupUrl} (a backup's reference, {@code keel:backup:<id>} or
     * its number such as {@code b001}, or an https URL) into {@code target}, after checking all
     * of it: 422 for a follower, an unusable source, a bad extension name or missing client tools.
     */
    public Transfer start(Caller caller, Database target, @Nullable String backupUrl, @Nullable List<String> extensions) {
        if (target.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, target.name() + " is a follower and takes no writes; restore into"
                    + " its leader, or unfollow it first.");
        }
        databases.requireAvailable(caller, target.id().toString());
        tools.require("pg_restore", target.major());
        List<String> checked = checkExtensions(extensions);
        return start(target, sources.resolve(caller, backupUrl), checked);
    }

    /**
     * Accepts a copy of {@code source}, a database of the caller's team, into {@code target}
     * ({@code heroku pg:copy}): pg_dump of the source as it is read, into pg_restore as the
     * target's owner, which first removes what the target holds of the same objects.
     */
    public Transfer startCopy(Caller caller, Database target, Database source) {
        if (source.id().equals(target.id())) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "A database cannot be copied onto itself; name another target.");
        }
        if (target.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, target.name() + " is a follower and takes no writes; copy into"
                    + " its leader, or unfollow it first.");
        }
        if (target.id().equals(source.leaderId())) {
            throw new KeelException(ProblemType.INVALID_REQUEST, source.name() + " follows " + target.name() + ": copying it onto its"
                    + " leader would drop the objects it is reading from; copy the leader itself, or unfollow " + source.name() + " first.");
        }
        databases.requireAvailable(caller, target.id().toString());
        databases.requireAvailable(caller, source.id().toString());
        tools.require("pg_restore", Math.max(target.major(), source.major()));
        return start(target, sources.of(source), List.of());
    }

    /**
     * The database of the caller's team that {@code url} (a connection URL, as the Heroku CLI
     * passes pg:copy's source) points at: matched by its database name and its server's port.
     * Keel copies only between its own databases: any other URL is refused, and Keel never
     * connects to it.
     */
    public Database databaseAt(Caller caller, @Nullable String url) {
        URI parsed;
        try {
            parsed = new URI(url == null ? "" : url.strip());
        } catch (URISyntaxException e) {
            parsed = URI.create("");
        }
        String name = parsed.getPath() == null ? "" : parsed.getPath().replaceFirst("^/", "");
        int port = parsed.getPort();
        for (Database database : databases.list(caller)) {
            boolean served = instances.forDatabase(database.id()).stream().anyMatch(i -> i.port() == port);
            if (database.pgDatabase().equals(name) && served) {
                return database;
            }
        }
        throw new KeelException(ProblemType.INVALID_REQUEST, "pg:copy copies between Keel databases of your team; its source is not"
                + " one of them. To bring in another database, restore a pg_dump -Fc file of it from an https URL"
                + " (heroku pg:backups:restore <url> TARGET).");
    }

    private Transfer start(Database target, DumpSources.Source source, List<String> checked) {
        try {
            Transfer transfer = dsl.transactionResult(tx -> {
                // The request (its source, which may hold a signed URL) waits in this node's memory: this node runs it, pg_restore
                // reaching the database's server over the network wherever it is hosted.
                Operation operation = operations.createHere(tx.dsl(), target.teamId(), target.id(), OperationKind.LOGICAL_RESTORE, RESTORING, 1);
                return transfers.insert(tx.dsl(), target.teamId(), TransferKind.RESTORE, target.id(), operation.id(), null,
                        source.backup() == null ? null : source.backup().id(), source.url() == null ? null : source.display(),
                        source.display());
            });
            pending.put(transfer.id(), new Request(source, checked));
            transfers.log(transfer.id(), "restore of " + source.display() + " into " + target.name() + " queued");
            runner.submit(operations.find(target.teamId(), transfer.operationId()).orElseThrow());
            return transfer;
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.ALREADY_QUEUED, "A restore into " + target.name() + " is running already; wait for it"
                    + " or cancel it (heroku pg:backups:cancel).");
        }
    }

    private static List<String> checkExtensions(@Nullable List<String> extensions) {
        List<String> checked = new ArrayList<>();
        for (String extension : extensions == null ? List.<String>of() : extensions) {
            if (extension == null || !EXTENSION.matcher(extension.strip()).matches()) {
                throw new KeelException(ProblemType.INVALID_REQUEST, "'" + extension + "' is not an extension name: say hstore, or"
                        + " myschema.hstore for another schema than public.");
            }
            checked.add(extension.strip());
        }
        return checked;
    }

    @Override
    public OperationKind kind() {
        return OperationKind.LOGICAL_RESTORE;
    }

    /** No: pg_restore writes through SQL, never the instances; a failover does not wait for it. */
    @Override
    public boolean holdsDatabase() {
        return false;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Transfer transfer = transfers.forOperation(operation.id()).orElseThrow();
        Request request = pending.remove(transfer.id());
        if (transfer.finished()) {
            return; // canceled before it began
        }
        try {
            if (request == null) {
                throw new KeelException(ProblemType.CONFLICT, "Keel restarted before this restore began; start it again.");
            }
            int warnings = restore(operation, transfer, request);
            if (!transfers.finish(transfer.id(), TransferState.COMPLETED, null, null, warnings)) {
                throw canceled();
            }
            transfers.log(transfer.id(), "restore completed" + (warnings == 0 ? "" : " with " + warnings + " warnings"));
        } catch (Exception e) {
            if (transfers.find(transfer.id()).map(t -> t.state() == TransferState.CANCELED).orElse(true)) {
                throw canceled();
            }
            String reason = e instanceof KeelException ? e.getMessage()
                    : "The restore failed; Keel's log has the details under operation " + operation.id() + ".";
            transfers.finish(transfer.id(), TransferState.FAILED, null, reason, 0);
            transfers.log(transfer.id(), "restore failed: " + reason);
            throw e;
        }
    }

    /** Runs pg_restore fed from the source; returns how many errors it skipped. */
    private int restore(Operation operation, Transfer transfer, Request request) throws Exception {
        Database target = databases.find(transfer.databaseId()).orElseThrow();
        Instance server = instances.primary(target.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                target.name() + " has no server to restore into."));
        ClientTools.Tool pgRestore = tools.require("pg_restore", target.major());
        ClientProcess.Target owner = clients.owner(target, server);
        if (!request.extensions().isEmpty()) {
            sources.createExtensions(owner, request.extensions());
            transfers.log(transfer.id(), "extensions created: " + String.join(", ", request.extensions()));
        }
        try (DumpSources.Opened source = sources.open(request.source())) {
            transfers.progress(transfer.id(), 0, source.size());
            transfers.log(transfer.id(), "pg_restore " + pgRestore.version() + " started from " + request.source().display());
            List<String> argv = List.of(pgRestore.path().toString(), "--clean", "--if-exists", "--no-owner", "--no-acl",
                    "--no-password", "--dbname=" + target.pgDatabase());
            try (ClientProcess process = clients.start(argv, owner, ClientProcess.Stream.INPUT);
                 RunningTransfers.Registration ignored = source.producer() == null ? running.register(transfer.id(), process)
                         : running.register(transfer.id(), process, source.producer())) {
                long total = source.size() == null ? 0 : source.size();
                StreamCopy copy = new StreamCopy(done -> {
                    transfers.progress(transfer.id(), done, null);
                    operations.progress(operation.id(), RESTORING, done, Math.max(total, done), "bytes");
                });
                feed(source.stream(), process, copy);
                int exit = process.waitFor(EXIT_PATIENCE);
                transfers.progress(transfer.id(), copy.count(), null);
                if (source.producer() != null) {
                    checkDump(request.source(), source.producer(), exit);
                }
                if (request.source().sha256() != null && !request.source().sha256().equals(copy.sha256())) {
                    throw new KeelException(ProblemType.UNAVAILABLE, "The bytes read of " + request.source().display()
                            + " do not match its recorded sha256; the restore may be partial. Restore it again.");
                }
                return outcome(transfer, process, exit);
            }
        }
    }

    /**
     * A copy's pg_dump, once pg_restore ended with {@code restored}: a dump that failed on its own
     * (not of the broken pipe a failed pg_restore leaves it) is the copy's failure, said in
     * pg_dump's words rather than pg_restore's "input file is too short"; a pg_dump still running
     * after a failed pg_restore is ended.
     */
    private static void checkDump(DumpSources.Source source, ClientProcess dump, int restored) throws InterruptedException {
        boolean endedFirst = !dump.isAlive();
        if (restored != 0 && !endedFirst) {
            dump.kill();
            return;
        }
        int dumped = dump.waitFor(EXIT_PATIENCE);
        boolean brokenPipe = dumped == SIGPIPE_EXIT || dump.errors().contains("Broken pipe");
        if (dumped != 0 && (restored == 0 || !brokenPipe)) {
            throw new KeelException(ProblemType.UNAVAILABLE, "pg_dump of " + source.display() + " failed (exit " + dumped + "): "
                    + dump.errors());
        }
    }

    /**
     * Copies the dump into pg_restore; a pg_restore that quits early (broken pipe) is judged by its exit status, and a source that
     * stopped sending ends the restore, saying so.
     */
    private static void feed(InputStream dump, ClientProcess process, StreamCopy copy) throws IOException {
        try (OutputStream in = process.input()) {
            copy.copy(dump, in);
        } catch (IdleDeadlineInputStream.Stalled stalled) {
            throw new KeelException(ProblemType.UNAVAILABLE, "Reading the dump stopped: " + stalled.getMessage() + ". Restore it again,"
                    + " from a URL that serves it whole.");
        } catch (IOException e) {
            if (process.isAlive()) {
                throw e;
            }
        }
    }

    private int outcome(Transfer transfer, ClientProcess process, int exit) {
        if (exit == 0) {
            return 0;
        }
        Matcher ignored = IGNORED.matcher(process.errors());
        if (exit == 1 && ignored.find()) {
            int warnings = Integer.parseInt(ignored.group(1));
            process.errorLines().stream().filter(line -> line.contains("error:")).limit(WARNING_LINES)
                    .forEach(line -> transfers.log(transfer.id(), "warning: " + line.strip()));
            return warnings;
        }
        if (transfers.find(transfer.id()).map(Transfer::finished).orElse(true)) {
            throw canceled();
        }
        throw new KeelException(ProblemType.UNAVAILABLE, "pg_restore failed (exit " + exit + "): " + process.errors());
    }

    private static KeelException canceled() {
        return new KeelException(ProblemType.CONFLICT, "The restore was canceled.");
    }

    /** A restore Keel stopped during is failed: what pg_restore had done stays, and the restore can be run again. */
    @Override
    public Decision recover(Operation operation) {
        return transfers.forOperation(operation.id()).map(transfer -> {
            String reason = "Keel stopped during this restore; the database holds part of the backup. Restore it again.";
            transfers.finish(transfer.id(), TransferState.FAILED, null, reason, 0);
            transfers.log(transfer.id(), "restore failed: " + reason);
            LOG.warn("Restore {} was interrupted and is marked failed", transfer.name());
            return Decision.giveUp(operation, "the logical restore was interrupted and is marked failed");
        }).orElseGet(() -> Decision.giveUp(operation, "abandoning the logical restore: it has no record"));
    }
}
