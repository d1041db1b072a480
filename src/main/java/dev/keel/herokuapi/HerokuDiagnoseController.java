package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.maintenance.Diagnosis;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.util.List;
import java.util.Map;

/**
 * {@code heroku pg:diagnose}: the CLI asks Keel for the database's metrics, then posts to its
 * diagnosis service (Keel, when {@code PGDIAGNOSE_URL} names Keel's host) the app and config var
 * to diagnose. Keel resolves those itself and connects as its own superuser: the URL and metrics in
 * the request are not used (a client could put anything there).
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuDiagnoseController {
    private final HerokuAddons addons;
    private final DatabaseLookup databases;
    private final Diagnosis diagnosis;

    HerokuDiagnoseController(HerokuAddons addons, DatabaseLookup databases, Diagnosis diagnosis) {
        this.addons = addons;
        this.databases = databases;
        this.diagnosis = diagnosis;
    }

    @Serdeable
    record ReportRequest(@Nullable String app, @Nullable String database) {
    }

    @Serdeable
    record Metric(double loadAvg1m) {
    }

    /** The host's 1-minute load per CPU (Keel's servers share their host). */
    @Get("/client/v11/databases/{addon}/metrics")
    List<Metric> metrics(Caller caller, String addon) {
        addons.database(caller, addon);
        return List.of(new Metric(Math.max(0, diagnosis.loadPerCpu())));
    }

    /** Keel's plans do not burst. */
    @Get("/client/v11/databases/{addon}/burst_status")
    Map<String, Object> burstStatus(Caller caller, String addon) {
        addons.database(caller, addon);
        return Map.of();
    }

    @Post("/reports")
    HttpResponse<Diagnosis.Report> create(Caller caller, @Body ReportRequest request) {
        if (request.app() == null || request.database() == null) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say which app and which of its config vars to diagnose:"
                    + " {\"app\": \"myapp\", \"database\": \"DATABASE_URL\"}.");
        }
        Attachment attachment = addons.resolve(caller, request.app(), request.database()).get(0);
        Database database = databases.find(attachment.databaseId()).orElseThrow(() -> KeelException.notFound("database",
                request.database()));
        return HttpResponse.created(diagnosis.run(caller, database, request.app(), attachment.configVar()));
    }

    @Get("/reports/{id}")
    Diagnosis.Report show(Caller caller, String id) {
        return diagnosis.show(caller, id);
    }
}
