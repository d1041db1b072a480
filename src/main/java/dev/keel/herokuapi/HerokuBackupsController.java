package dev.keel.herokuapi;

import dev.keel.Ids;
import dev.keel.apps.App;
import dev.keel.apps.Apps;
import dev.keel.apps.Attachment;
import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.dumps.DumpSchedules;
import dev.keel.dumps.Transfer;
import dev.keel.dumps.Transfers;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * {@code heroku pg:backups*}: logical backups (pg_dump files) as Heroku's transfers: capture, list,
 * info, url and download, delete, cancel, restore (from a backup of any app of the team, or an
 * https URL), and daily schedules. An app is named by its name or, as {@code pg:backups:restore}
 * polls it, its id.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuBackupsController {
    private final HerokuAddons addons;
    private final Apps apps;
    private final Attachments attachments;
    private final DatabaseLookup databases;
    private final Transfers transfers;
    private final DumpSchedules schedules;
    private final HerokuTransferShapes shapes;

    HerokuBackupsController(HerokuAddons addons, Apps apps, Attachments attachments, DatabaseLookup databases, Transfers transfers,
                            DumpSchedules schedules, HerokuTransferShapes shapes) {
        this.addons = addons;
        this.apps = apps;
        this.attachments = attachments;
        this.databases = databases;
        this.transfers = transfers;
        this.schedules = schedules;
        this.shapes = shapes;
    }

    @Serdeable
    record RestoreRequest(@Nullable String backupUrl, @Nullable List<String> extensions) {
    }

    @Serdeable
    record CopyRequest(@Nullable String fromName, @Nullable String fromUrl, @Nullable String toName, @Nullable String toUrl) {
    }

    @Serdeable
    record ScheduleRequest(@Nullable String hour, @Nullable String timezone, @Nullable String scheduleName) {
    }

    @Serdeable
    record Schedule(UUID uuid, String name, int hour, String timezone) {
    }

    @Post("/client/v11/databases/{addon}/backups")
    HttpResponse<HerokuTransferShapes.HerokuTransfer> capture(Caller caller, String addon) {
        Database database = databases.requireAvailable(caller, addons.database(caller, addon).id().toString());
        return HttpResponse.created(shapes.transfer(transfers.capture(database), database.name()));
    }

    @Get("/client/v11/apps/{app}/transfers")
    List<HerokuTransferShapes.HerokuTransfer> list(Caller caller, String app) {
        String appName = appName(caller, app);
        List<Attachment> ofApp = attachments.list(caller, appName);
        Map<UUID, Database> attached = attached(caller, appName);
        return transfers.of(attached.keySet()).stream()
                .map(t -> shapes.transfer(t, HerokuTransferShapes.attachmentName(ofApp, attached.get(t.databaseId())))).toList();
    }

    /** One transfer, by its uuid (as {@code capture} polls) or its number (as {@code info} asks). */
    @Get("/client/v11/apps/{app}/transfers/{id}")
    HerokuTransferShapes.HerokuTransfer show(Caller caller, String app, String id) {
        String appName = appName(caller, app);
        Transfer transfer = ofApp(caller, appName, id);
        Database database = databases.find(transfer.databaseId()).orElseThrow();
        return shapes.transfer(transfer, HerokuTransferShapes.attachmentName(attachments.list(caller, appName), database));
    }

    @Delete("/client/v11/apps/{app}/transfers/{id}")
    HerokuTransferShapes.HerokuTransfer delete(Caller caller, String app, String id) {
        HerokuTransferShapes.HerokuTransfer shown = show(caller, app, id);
        transfers.delete(ofApp(caller, appName(caller, app), id));
        return shown;
    }

    @Post("/client/v11/apps/{app}/transfers/{id}/actions/public-url")
    HerokuTransferShapes.PublicUrl publicUrl(Caller caller, String app, String id) {
        return shapes.publicUrl(transfers.link(caller, ofApp(caller, appName(caller, app), id)));
    }

    @Post("/client/v11/apps/{app}/transfers/{id}/actions/cancel")
    HerokuTransferShapes.HerokuTransfer cancel(Caller caller, String app, String id) {
        transfers.cancel(ofApp(caller, appName(caller, app), id));
        return show(caller, app, id);
    }

    @Post("/client/v11/databases/{addon}/restores")
    HttpResponse<HerokuTransferShapes.HerokuTransfer> restore(Caller caller, String addon, @Body RestoreRequest request) {
        Database target = databases.requireAvailable(caller, addons.database(caller, addon).id().toString());
        Transfer restore = transfers.restore(caller, target, request.backupUrl(), request.extensions());
        return HttpResponse.created(shapes.transfer(restore, target.name()));
    }

    /**
     * {@code heroku pg:copy SOURCE TARGET}: the add-on is the target; the source is the caller's
     * database its URL points at. Both are Keel databases of the team: Keel connects to nothing else.
     */
    @Post("/client/v11/databases/{addon}/transfers")
    HttpResponse<HerokuTransferShapes.HerokuTransfer> copy(Caller caller, String addon, @Body CopyRequest request) {
        Database target = databases.requireAvailable(caller, addons.database(caller, addon).id().toString());
        Database source = transfers.databaseAt(caller, request.fromUrl());
        Transfer copy = transfers.copy(caller, target, source);
        return HttpResponse.created(shapes.transfer(copy, target.name()));
    }

    @Get("/client/v11/databases/{addon}/transfer-schedules")
    List<Schedule> schedules(Caller caller, String addon) {
        return schedules.of(addons.database(caller, addon).id()).stream()
                .map(s -> new Schedule(s.id(), s.name(), s.hour(), s.timezone())).toList();
    }

    @Post("/client/v11/databases/{addon}/transfer-schedules")
    HttpResponse<Schedule> schedule(Caller caller, String addon, @Body ScheduleRequest request) {
        Database database = addons.database(caller, addon);
        int hour;
        try {
            hour = Integer.parseInt(request.hour() == null ? "" : request.hour().strip());
        } catch (NumberFormatException e) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say the hour of the daily backup: --at '02:00 America/New_York'.");
        }
        DumpSchedules.Schedule set = schedules.set(database, request.scheduleName() == null ? "DATABASE_URL" : request.scheduleName(),
                hour, request.timezone());
        return HttpResponse.created(new Schedule(set.id(), set.name(), set.hour(), set.timezone()));
    }

    @Delete("/client/v11/databases/{addon}/transfer-schedules/{id}")
    Schedule unschedule(Caller caller, String addon, String id) {
        Database database = addons.database(caller, addon);
        DumpSchedules.Schedule found = Ids.parse(id).flatMap(schedules::find).filter(s -> s.databaseId().equals(database.id()))
                .orElseThrow(() -> KeelException.notFound("schedule", id));
        schedules.delete(found.id());
        return new Schedule(found.id(), found.name(), found.hour(), found.timezone());
    }

    /** The app's name, whether {@code app} is its name or its id. */
    private String appName(Caller caller, String app) {
        return Ids.parse(app).flatMap(id -> apps.list(caller).stream().filter(a -> a.id().equals(id)).map(App::name).findFirst())
                .orElse(app);
    }

    private Map<UUID, Database> attached(Caller caller, String appName) {
        Map<UUID, Database> attached = new LinkedHashMap<>();
        addons.ofApp(caller, appName).forEach(d -> attached.put(d.id(), d));
        return attached;
    }

    /** The caller's transfer {@code id} (uuid or number) of a database attached to the app; 404 otherwise. */
    private Transfer ofApp(Caller caller, String appName, String id) {
        Transfer transfer = transfers.require(caller, id);
        if (!attached(caller, appName).containsKey(transfer.databaseId())) {
            throw KeelException.notFound("backup", id);
        }
        return transfer;
    }
}
