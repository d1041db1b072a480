package dev.keel.herokuapi;

import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.sql.SQLException;

/**
 * {@code heroku pg:connection-pooling:attach [--as NAME]}: attaches the database to the app
 * through its PgBouncer (made on first use), giving it {@code DATABASE_CONNECTION_POOL_URL} (or
 * {@code NAME_URL}).
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuPoolingController {
    private final HerokuAddons addons;
    private final Attachments attachments;

    HerokuPoolingController(HerokuAddons addons, Attachments attachments) {
        this.addons = addons;
        this.attachments = attachments;
    }

    @Serdeable
    record PoolingRequest(@Nullable String app, @Nullable String credential, @Nullable String name) {
    }

    @Post("/client/v11/databases/{addon}/connection-pooling")
    HttpResponse<HerokuShapes.AddonAttachment> attach(Caller caller, String addon, @Body PoolingRequest request)
            throws SQLException, InterruptedException {
        if (request.app() == null || request.app().isBlank()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say which app gets the pooled attachment (--app).");
        }
        Database database = addons.database(caller, addon);
        Attachments.Attached attached = attachments.attachPooled(caller, request.app(), database, request.name(), request.credential());
        return HttpResponse.created(addons.attachment(attached.attachment()));
    }
}
