package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.apps.Attachments;
import dev.keel.archive.Backup;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BackupRepository;
import dev.keel.archive.BackupState;
import dev.keel.archive.BaseBackups;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * {@code heroku pg:backups*}: Keel's base backups as Heroku's backup transfers. They are physical
 * backups (restorable to any point with the WAL after them), shown with Heroku's
 * {@code pg_dump → gof3r} types because that is what the CLI lists as backups.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuTransfersController {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z").withZone(ZoneOffset.UTC);

    private final HerokuAddons addons;
    private final Attachments attachments;
    private final DatabaseLookup databases;
    private final BackupRepository backups;
    private final BaseBackups baseBackups;

    HerokuTransfersController(HerokuAddons addons, Attachments attachments, DatabaseLookup databases, BackupRepository backups,
                              BaseBackups baseBackups) {
        this.addons = addons;
        this.attachments = attachments;
        this.databases = databases;
        this.backups = backups;
        this.baseBackups = baseBackups;
    }

    @Serdeable
    record Log(String createdAt, String message) {
    }

    @Serdeable
    record Transfer(UUID uuid, long num, String fromName, String fromType, String toName, String toType, Map<String, Object> options,
                    @Nullable Long sourceBytes, @Nullable Long processedBytes, @Nullable Boolean succeeded, int warnings,
                    @Nullable Map<String, String> schedule, @Nullable String canceledAt, String createdAt, String startedAt,
                    @Nullable String finishedAt, List<Log> logs) {
    }

    @Post("/client/v11/databases/{addon}/backups")
    HttpResponse<Transfer> capture(Caller caller, String addon) {
        Database database = databases.requireAvailable(caller, addons.database(caller, addon).id().toString());
        if (database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower: its leader's backups hold its data;"
                    + " back up its leader, or unfollow it first.");
        }
        return HttpResponse.created(transfer(baseBackups.start(database, BackupKind.MANUAL), database.name()));
    }

    @Get("/client/v11/apps/{app}/transfers")
    List<Transfer> list(Caller caller, String app) {
        List<Transfer> transfers = new ArrayList<>();
        List<Attachment> ofApp = attachments.list(caller, app);
        for (Database database : addons.ofApp(caller, app)) {
            String name = attachmentName(ofApp, database);
            backups.list(database.id()).forEach(b -> transfers.add(transfer(b, name)));
        }
        transfers.sort(Comparator.comparing(Transfer::createdAt).reversed());
        return transfers;
    }

    /** One transfer, by its uuid (as {@code pg:backups:capture} polls) or its number (as {@code pg:backups:info} asks). */
    @Get("/client/v11/apps/{app}/transfers/{id}")
    Transfer show(Caller caller, String app, String id) {
        List<Database> attached = addons.ofApp(caller, app);
        Backup backup = (id.matches("\\d{1,18}") ? backups.findByNumber(Long.parseLong(id))
                : dev.keel.Ids.parse(id).flatMap(uuid -> attached.stream().flatMap(d -> backups.find(d.id(), uuid).stream()).findFirst()))
                .filter(b -> attached.stream().anyMatch(d -> d.id().equals(b.databaseId())))
                .orElseThrow(() -> KeelException.notFound("backup", id));
        Database database = attached.stream().filter(d -> d.id().equals(backup.databaseId())).findFirst().orElseThrow();
        return transfer(backup, attachmentName(attachments.list(caller, app), database));
    }

    /** What the app calls the database: DATABASE when it is that, else another of its attachment names. */
    private static String attachmentName(List<Attachment> ofApp, Database database) {
        return ofApp.stream().filter(a -> a.databaseId().equals(database.id())).map(Attachment::name)
                .min(Comparator.comparing(n -> !n.equals("DATABASE"))).orElse(database.name());
    }

    private Transfer transfer(Backup b, String fromName) {
        boolean finished = b.state() != BackupState.RUNNING;
        String started = TIME.format(b.startedAt());
        List<Log> logs = new ArrayList<>();
        logs.add(new Log(started, "base backup of " + fromName + " started (" + b.kind().value() + ")"));
        if (finished) {
            logs.add(new Log(time(b.finishedAt()), b.state() == BackupState.COMPLETED ? "base backup completed, its WAL archived"
                    : "base backup failed: " + b.error()));
        }
        return new Transfer(b.id(), backups.number(b.id()), fromName, "pg_dump", "BACKUP", "gof3r", Map.of(), b.size(), b.stored(),
                finished ? b.state() == BackupState.COMPLETED : null, 0,
                b.kind() == BackupKind.MANUAL ? null : Map.of("name", b.kind().value()), null, started, started,
                finished ? time(b.finishedAt()) : null, logs);
    }

    @Nullable
    private static String time(@Nullable Instant instant) {
        return instant == null ? null : TIME.format(instant);
    }
}
