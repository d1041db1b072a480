package dev.keel.herokuapi;

import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseCreate;
import dev.keel.databases.DatabaseDelete;
import dev.keel.databases.DatabaseLookup;
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

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Heroku's add-on endpoints as {@code heroku addons*} calls them. {@code addons:create}'s
 * arguments after {@code --} arrive as {@code config} ({@code version}, {@code fork},
 * {@code fast}, {@code follow}, {@code rollback} with {@code to} or {@code by}); a database they
 * name may be an attachment of the app ({@code DATABASE}) or a database's name.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuAddonsController {
    static final String HEROKU_JSON = "application/vnd.heroku+json";
    private static final Duration DESTROY_PATIENCE = Duration.ofSeconds(20);

    private final HerokuAddons addons;
    private final HerokuShapes shapes;
    private final Attachments attachments;
    private final DatabaseCreate create;
    private final DatabaseDelete delete;
    private final DatabaseLookup databases;

    HerokuAddonsController(HerokuAddons addons, HerokuShapes shapes, Attachments attachments, DatabaseCreate create, DatabaseDelete delete,
                           DatabaseLookup databases) {
        this.addons = addons;
        this.shapes = shapes;
        this.attachments = attachments;
        this.create = create;
        this.delete = delete;
        this.databases = databases;
    }

    @Serdeable
    record Create(@Nullable HerokuShapes.NameRef plan, @Nullable HerokuShapes.NameRef attachment, @Nullable Map<String, Object> config, @Nullable String name) {
    }

    @Serdeable
    record Resolve(@Nullable String addon, @Nullable String app) {
    }

    @Post("/apps/{app}/addons")
    HttpResponse<HerokuShapes.Addon> create(Caller caller, String app, @Body Create request) {
        attachments.list(caller, app); // the app must exist before anything is made
        Map<String, Object> config = request.config() == null ? Map.of() : request.config();
        CreateDatabaseRequest body = new CreateDatabaseRequest(shapes.keelPlan(request.plan() == null ? null : request.plan().name()),
                request.name(), text(config, "version"), database(caller, app, config, "fork"), database(caller, app, config, "rollback"),
                database(caller, app, config, "follow"), HerokuTimes.rfc3339(text(config, "to")), text(config, "by"),
                config.containsKey("fast") ? Boolean.valueOf(String.valueOf(config.get("fast"))) : null);
        Accepted accepted = create.accept(caller, body);
        attachments.attach(caller, app, accepted.database().id().toString(),
                request.attachment() == null ? null : request.attachment().name(), null);
        return HttpResponse.created(addons.addon(accepted.database(), null));
    }

    @Get("/apps/{app}/addons")
    List<HerokuShapes.Addon> ofApp(Caller caller, String app) {
        return addons.ofApp(caller, app).stream().map(d -> addons.addon(d, null)).toList();
    }

    @Get("/apps/{app}/addons/{addon}")
    HerokuShapes.Addon showInApp(Caller caller, String app, String addon) {
        return addons.addon(addons.databaseIn(caller, app, addon), null);
    }

    @Get("/addons")
    List<HerokuShapes.Addon> all(Caller caller) {
        return databases.list(caller).stream().map(d -> addons.addon(d, null)).toList();
    }

    @Get("/addons/{addon}")
    HerokuShapes.Addon show(Caller caller, String addon) {
        return addons.addon(addons.database(caller, addon), null);
    }

    @Post("/actions/addons/resolve")
    List<HerokuShapes.Addon> resolve(Caller caller, @Body Resolve request) {
        return List.of(addons.addon(addons.databaseIn(caller, request.app(), request.addon() == null ? "" : request.addon()), null));
    }

    /** Deletes the database; answers {@code deprovisioned} when it is gone within a few seconds, else {@code deprovisioning}. */
    @Delete("/apps/{app}/addons/{addon}")
    HerokuShapes.Addon destroy(Caller caller, String app, String addon) throws InterruptedException {
        Database database = addons.database(caller, addon);
        HerokuShapes.Addon shown = addons.addon(database, null);
        delete.accept(caller, database.id().toString(), false);
        Instant deadline = Instant.now().plus(DESTROY_PATIENCE);
        while (databases.find(database.id()).isPresent() && Instant.now().isBefore(deadline)) {
            Thread.sleep(200);
        }
        String state = databases.find(database.id()).isPresent() ? "deprovisioning" : "deprovisioned";
        return shown.withState(state);
    }

    private String database(Caller caller, String app, Map<String, Object> config, String key) {
        String name = text(config, key);
        return name == null ? null : addons.databaseIn(caller, app, name).id().toString();
    }

    @Nullable
    private static String text(Map<String, Object> config, String key) {
        Object value = config.get(key);
        return value == null || value instanceof Boolean ? null : value.toString();
    }
}
