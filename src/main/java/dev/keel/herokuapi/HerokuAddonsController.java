package dev.keel.herokuapi;

import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.http.StrictJson;
import dev.keel.lifecycle.DatabaseCreate;
import dev.keel.lifecycle.DatabaseDelete;
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
        // Whatever would refuse the attachment refuses it before the database is made.
        String as = request.attachment() == null ? null : request.attachment().name();
        attachments.requireAttachable(caller, app, as);
        attachments.list(caller, app); // the app must exist before anything is made
        Map<String, Object> config = request.config() == null ? Map.of() : request.config();
        CreateDatabaseRequest body = new CreateDatabaseRequest(shapes.keelPlan(request.plan() == null ? null : request.plan().name()),
                request.name(), text(config, "version"), database(caller, app, config, "fork"), database(caller, app, config, "rollback"),
                database(caller, app, config, "follow"), HerokuTimes.rfc3339(text(config, "to")), text(config, "by"), flag(config, "fast"));
        Accepted accepted = create.accept(caller, body);
        attachments.attach(caller, app, accepted.database().id().toString(), as, null);
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
        Database database = addons.databaseIn(caller, app, addon);
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

    /** A value after {@code --key}: text (a number too, for {@code version}); a bare {@code --key} or anything else is refused. */
    @Nullable
    private static String text(Map<String, Object> config, String key) {
        Object value = config.get(key);
        if (value == null || value instanceof String || (value instanceof Number && key.equals("version"))) {
            return value == null ? null : StrictJson.text("config." + key, value.toString());
        }
        throw new KeelException(ProblemType.INVALID_REQUEST, "--" + key + " takes a value, such as --" + key + " "
                + (key.equals("version") ? "16" : key.equals("by") ? "'3 hours'" : key.equals("to") ? "'2026-11-20 10:00+00'" : "DATABASE") + ".");
    }

    /** A flag such as {@code --fast}: true, or "true" / "false" as {@code --fast=false} sends it. */
    @Nullable
    private static Boolean flag(Map<String, Object> config, String key) {
        Object value = config.get(key);
        if (value == null || value instanceof Boolean) {
            return (Boolean) value;
        }
        if (value.equals("true") || value.equals("false")) {
            return Boolean.valueOf((String) value);
        }
        throw new KeelException(ProblemType.INVALID_REQUEST, "--" + key + " is a flag: give it alone, or as --" + key + "=true or --" + key
                + "=false.");
    }
}
