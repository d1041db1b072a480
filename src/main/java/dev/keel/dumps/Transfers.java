package dev.keel.dumps;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.net.URI;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Logical backups and restores as the API and the Heroku CLI use them: capture, restore, find by
 * id or number within the caller's team, signed download links, cancel and delete.
 */
@Singleton
public final class Transfers {
    private final TransferRepository transfers;
    private final DumpCapture capture;
    private final DumpRestore restore;
    private final DumpObjects objects;
    private final DumpLinks links;
    private final DumpDownloadServer downloads;
    private final RunningTransfers running;

    Transfers(TransferRepository transfers, DumpCapture capture, DumpRestore restore, DumpObjects objects, DumpLinks links,
              DumpDownloadServer downloads, RunningTransfers running) {
        this.transfers = transfers;
        this.capture = capture;
        this.restore = restore;
        this.objects = objects;
        this.links = links;
        this.downloads = downloads;
        this.running = running;
    }

    /** A log line of a transfer. */
    @Serdeable
    public record Log(Instant at, String message) {
    }

    /** A signed download link and when it stops working. */
    @Serdeable
    public record Link(URI url, Instant expiresAt) {
    }

    /** Starts a manual logical backup of the database. */
    public Transfer capture(Database database) {
        return capture.start(database, null);
    }

    /** Starts a restore of {@code source} (a backup's reference or number, or an https URL) into {@code target}. */
    public Transfer restore(Caller caller, Database target, @Nullable String source, @Nullable List<String> extensions) {
        return restore.start(caller, target, source, extensions);
    }

    /** Starts a copy of {@code source} (a database of the caller's team) into {@code target}, replacing what it holds (pg:copy). */
    public Transfer copy(Caller caller, Database target, Database source) {
        return restore.startCopy(caller, target, source);
    }

    /** The caller's database that a connection URL points at (pg:copy's source); 422 for any other URL. */
    public Database databaseAt(Caller caller, @Nullable String url) {
        return restore.databaseAt(caller, url);
    }

    /** The transfers of these databases (backups of them, restores into them), newest first. */
    public List<Transfer> of(Collection<UUID> databases) {
        return databases.isEmpty() ? List.of() : transfers.ofDatabases(databases);
    }

    /**
     * The caller's transfer by id, number ({@code 12}) or name ({@code b012}), exactly as written
     * (not trimmed: {@code "12 "} names none); 404 otherwise.
     */
    public Transfer require(Caller caller, String idOrNumber) {
        Optional<Transfer> found = idOrNumber.matches("[abr]?\\d{1,18}")
                ? transfers.findByNum(Long.parseLong(idOrNumber.replaceFirst("^[abr]", ""))) : Ids.parse(idOrNumber).flatMap(transfers::find);
        return found.filter(t -> t.teamId().equals(caller.teamId())).orElseThrow(() -> KeelException.notFound("backup", idOrNumber));
    }

    public List<Log> logs(Transfer transfer) {
        return transfers.logs(transfer.id()).stream().map(l -> new Log(l.at(), l.message())).toList();
    }

    /** The reference a restore of this backup takes (Heroku's {@code to_url}). */
    public static String reference(Transfer backup) {
        return DumpSources.reference(backup.id());
    }

    /** A signed link to download a completed backup, working while {@code caller}'s API key is not revoked. */
    public Link link(Caller caller, Transfer backup) {
        if (backup.kind() != TransferKind.BACKUP || backup.state() != TransferState.COMPLETED) {
            throw new KeelException(ProblemType.CONFLICT, backup.name() + " is not a completed backup; only those can be downloaded.");
        }
        DumpLinks.Signed signed = links.sign(backup.id(), caller.keyId(), Instant.now());
        return new Link(downloads.url(signed), signed.expiresAt());
    }

    /**
     * Ends as failed, with {@code reason}, the database's transfers still recorded as running whose
     * operations another node ended (their node forgotten while they ran); asked again, it finds
     * what a stop in between left.
     */
    public void abandonOrphans(UUID database, String reason) {
        for (Transfer transfer : transfers.orphaned(database)) {
            transfers.finish(transfer.id(), TransferState.FAILED, null, reason, 0);
        }
    }

    /** Stops a running transfer (its process is killed, a backup's upload discarded); 409 when it has ended. */
    public void cancel(Transfer transfer) {
        if (!transfers.finish(transfer.id(), TransferState.CANCELED, null, "canceled", 0)) {
            throw new KeelException(ProblemType.CONFLICT, transfer.name() + " has finished already; there is nothing to cancel.");
        }
        transfers.log(transfer.id(), transfer.kind().value() + " canceled");
        running.kill(transfer.id());
    }

    /** Deletes a backup that is not running, its objects first; 409 while it runs. */
    public void delete(Transfer transfer) {
        if (!transfer.finished()) {
            throw new KeelException(ProblemType.CONFLICT, transfer.name() + " is running; cancel it first (heroku pg:backups:cancel).");
        }
        if (transfer.kind() == TransferKind.BACKUP) {
            objects.remove(transfer);
        }
        transfers.delete(transfer.id());
    }
}
