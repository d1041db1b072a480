package dev.keel.dumps;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * {@code /v1/databases/{id}/logical-backups}, {@code .../logical-restores} and
 * {@code .../logical-backup-schedule}: pg_dump backups, their download links, restores, the daily
 * schedule. Physical base backups stay under {@code .../backups}.
 */
@Controller("/v1/databases/{database}")
@ExecuteOn(TaskExecutors.BLOCKING)
final class DumpsController {
    private final DatabaseLookup databases;
    private final Transfers transfers;
    private final DumpSchedules schedules;

    DumpsController(DatabaseLookup databases, Transfers transfers, DumpSchedules schedules) {
        this.databases = databases;
        this.transfers = transfers;
        this.schedules = schedules;
    }

    @Serdeable
    record View(UUID id, String name, String kind, String state, @Nullable String schedule, @Nullable String source,
                @Nullable Long sourceBytes, long processedBytes, @Nullable String sha256, int warnings, @Nullable String error,
                Instant createdAt, @Nullable Instant finishedAt, UUID operationId, List<Transfers.Log> logs) {
    }

    @Serdeable
    record RestoreRequest(@Nullable String backup, @Nullable String url, @Nullable List<String> extensions) {
    }

    @Serdeable
    record ScheduleView(UUID id, String name, int hour, String timezone) {
    }

    @Serdeable
    record ScheduleChange(@Nullable Integer hour, @Nullable String timezone) {
    }

    @Post("/logical-backups")
    HttpResponse<View> capture(Caller caller, String database) {
        Database db = databases.requireAvailable(caller, database);
        Transfer backup = transfers.capture(db);
        return HttpResponse.accepted(URI.create("/v1/databases/" + db.id() + "/logical-backups/" + backup.id())).body(view(backup));
    }

    @Get("/logical-backups")
    List<View> list(Caller caller, String database) {
        Database db = databases.require(caller, database);
        return transfers.of(List.of(db.id())).stream().filter(t -> t.kind() == TransferKind.BACKUP).map(this::view).toList();
    }

    @Get("/logical-backups/{backup}")
    View show(Caller caller, String database, String backup) {
        return view(backupOf(caller, database, backup));
    }

    @Delete("/logical-backups/{backup}")
    HttpResponse<Void> delete(Caller caller, String database, String backup) {
        transfers.delete(backupOf(caller, database, backup));
        return HttpResponse.noContent();
    }

    @Post("/logical-backups/{backup}/url")
    Transfers.Link url(Caller caller, String database, String backup) {
        return transfers.link(caller, backupOf(caller, database, backup));
    }

    @Post("/logical-backups/{backup}/cancel")
    View cancel(Caller caller, String database, String backup) {
        Transfer found = backupOf(caller, database, backup);
        transfers.cancel(found);
        return view(transfers.require(caller, found.id().toString()));
    }

    @Post("/logical-restores")
    @JsonBody
    HttpResponse<View> restore(Caller caller, String database, @Body RestoreRequest request) {
        Database target = databases.requireAvailable(caller, database);
        String source = request.url() != null ? request.url() : request.backup() == null ? null
                : request.backup().matches("[0-9a-f-]{36}") ? DumpSources.BACKUP_REFERENCE + request.backup() : request.backup();
        Transfer restore = transfers.restore(caller, target, source, request.extensions());
        return HttpResponse.accepted(URI.create("/v1/databases/" + target.id() + "/logical-restores/" + restore.id())).body(view(restore));
    }

    @Get("/logical-restores/{restore}")
    View restoreStatus(Caller caller, String database, String restore) {
        Database db = databases.require(caller, database);
        Transfer found = transfers.require(caller, restore);
        if (!found.databaseId().equals(db.id()) || found.kind() != TransferKind.RESTORE) {
            throw KeelException.notFound("restore", restore);
        }
        return view(found);
    }

    @Get("/logical-backup-schedule")
    List<ScheduleView> schedule(Caller caller, String database) {
        return schedules.of(databases.require(caller, database).id()).stream().map(DumpsController::view).toList();
    }

    @Put("/logical-backup-schedule")
    @JsonBody
    ScheduleView setSchedule(Caller caller, String database, @Body ScheduleChange change) {
        Database db = databases.require(caller, database);
        return view(schedules.set(db, "DATABASE_URL", change.hour() == null ? -1 : change.hour(), change.timezone()));
    }

    @Delete("/logical-backup-schedule")
    HttpResponse<Void> unschedule(Caller caller, String database) {
        schedules.of(databases.require(caller, database).id()).forEach(s -> schedules.delete(s.id()));
        return HttpResponse.noContent();
    }

    private Transfer backupOf(Caller caller, String database, String backup) {
        Database db = databases.require(caller, database);
        Transfer found = transfers.require(caller, backup);
        if (!found.databaseId().equals(db.id()) || found.kind() != TransferKind.BACKUP) {
            throw KeelException.notFound("backup", backup);
        }
        return found;
    }

    private View view(Transfer t) {
        return new View(t.id(), t.name(), t.kind().value(), t.state().value(), t.scheduleName(), t.sourceName(), t.sourceBytes(),
                t.processedBytes(), t.sha256(), t.warnings(), t.error(), t.createdAt(), t.finishedAt(), t.operationId(), transfers.logs(t));
    }

    private static ScheduleView view(DumpSchedules.Schedule s) {
        return new ScheduleView(s.id(), s.name(), s.hour(), s.timezone());
    }
}
