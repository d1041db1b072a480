package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.apps.Attachments;
import dev.keel.apps.ConfigVars;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
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

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Heroku's attachment, config-var and release endpoints as {@code heroku addons:attach},
 * {@code addons:detach}, {@code config} and every {@code pg:*} command's database lookup call
 * them. An attachment's {@code namespace} is {@code credential:<name>} when it is not through the
 * default credential. Each config change is a release of the app.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuAttachmentsController {
    private static final String CREDENTIAL = "credential:";

    private final HerokuAddons addons;
    private final Attachments attachments;
    private final ConfigVars configVars;

    HerokuAttachmentsController(HerokuAddons addons, Attachments attachments, ConfigVars configVars) {
        this.addons = addons;
        this.attachments = attachments;
        this.configVars = configVars;
    }

    @Serdeable
    record Attach(@Nullable HerokuShapes.NameRef addon, @Nullable HerokuShapes.NameRef app, @Nullable String name, @Nullable String namespace,
                  @Nullable String confirm) {
    }

    @Serdeable
    record Resolve(@Nullable String addonAttachment, @Nullable String app) {
    }

    @Serdeable
    record ConfigVar(String name, String value) {
    }

    @Serdeable
    record Release(UUID id, int version, String description, String status) {
    }

    @Get("/addon-attachments")
    List<HerokuShapes.AddonAttachment> all(Caller caller) {
        return attachments.all(caller).stream().map(addons::attachment).toList();
    }

    @Get("/apps/{app}/addon-attachments")
    List<HerokuShapes.AddonAttachment> ofApp(Caller caller, String app) {
        return attachments.list(caller, app).stream().map(addons::attachment).toList();
    }

    @Get("/apps/{app}/addon-attachments/{name}")
    HerokuShapes.AddonAttachment show(Caller caller, String app, String name) {
        return addons.attachment(addons.resolve(caller, app, name).get(0));
    }

    @Get("/addons/{addon}/addon-attachments")
    List<HerokuShapes.AddonAttachment> ofAddon(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        return attachments.ofDatabase(database.id()).stream().map(addons::attachment).toList();
    }

    @Post("/actions/addon-attachments/resolve")
    List<HerokuShapes.AddonAttachment> resolve(Caller caller, @Body Resolve request) {
        if (request.app() == null) {
            throw new KeelException(ProblemType.NOT_FOUND, "Couldn't find that add on attachment.");
        }
        return addons.resolve(caller, request.app(), request.addonAttachment() == null ? "" : request.addonAttachment()).stream()
                .map(addons::attachment).toList();
    }

    @Post("/addon-attachments")
    HttpResponse<HerokuShapes.AddonAttachment> attach(Caller caller, @Body Attach request) {
        String app = request.app() == null ? null : request.app().name();
        String credential = request.namespace() != null && request.namespace().startsWith(CREDENTIAL)
                ? request.namespace().substring(CREDENTIAL.length()) : null;
        Database database = addons.database(caller, request.addon() == null || request.addon().name() == null ? "" : request.addon().name());
        // Without a name, Heroku names an attachment after the add-on (its colour); with the app's name
        // confirmed, a name another database holds there moves to this one (pg:promote moves DATABASE so).
        String name = request.name() != null ? request.name() : attachments.colorOf(database);
        if (app != null && app.equals(request.confirm())) {
            attachments.list(caller, app).stream().filter(a -> a.name().equals(name) && !a.databaseId().equals(database.id())).findFirst()
                    .ifPresent(taken -> attachments.detach(caller, app, taken.name()));
        }
        Attachments.Attached attached = attachments.attach(caller, app == null ? "" : app, database.id().toString(), name, credential);
        return HttpResponse.created(addons.attachment(attached.attachment()));
    }

    @Delete("/addon-attachments/{id}")
    HerokuShapes.AddonAttachment detach(Caller caller, String id) {
        Attachment attachment = attachments.all(caller).stream().filter(a -> a.id().toString().equals(id)).findFirst()
                .orElseThrow(() -> KeelException.notFound("add-on attachment", id));
        HerokuShapes.AddonAttachment shown = addons.attachment(attachment);
        attachments.detach(caller, attachment.appName(), attachment.name());
        return shown;
    }

    /** The config var a credential of an add-on would give an app ({@code addons:attach --credential}): the key is {@code credential:<name>}. */
    @Get("/addons/{addon}/config/{key}")
    List<ConfigVar> credentialConfig(Caller caller, String addon, String key) {
        Database database = addons.database(caller, addon);
        if (!key.startsWith(CREDENTIAL)) {
            throw KeelException.notFound("add-on config", key);
        }
        String credential = key.substring(CREDENTIAL.length());
        return configVars.url(database.id(), credential).map(url -> List.of(new ConfigVar("DATABASE_URL", url.toString())))
                .orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, "Could not find credential " + credential
                        + " for database " + database.name() + "; pg:credentials lists its credentials."));
    }

    @Get("/apps/{app}/config-vars")
    Map<String, String> configVars(Caller caller, String app) {
        return configVars.of(caller, app);
    }

    /** The newest release only: Keel keeps a version per app, not each release's history. */
    @Get("/apps/{app}/releases")
    List<Release> releases(Caller caller, String app) {
        return List.of(release(caller, app));
    }

    /** The newest release, by its version or id (the CLI asks for the one an attach or detach made). */
    @Get("/apps/{app}/releases/{id}")
    Release release(Caller caller, String app, String id) {
        Release newest = release(caller, app);
        if (!id.equals(Integer.toString(newest.version())) && !id.equals(newest.id().toString())) {
            throw KeelException.notFound("release", id);
        }
        return newest;
    }

    /** Keel runs no dynos. */
    @Get("/apps/{app}/formation")
    List<Object> formation(Caller caller, String app) {
        attachments.list(caller, app);
        return List.of();
    }

    private Release release(Caller caller, String app) {
        int version = attachments.releaseVersion(caller, app);
        return new Release(UUID.nameUUIDFromBytes((app + ":" + version).getBytes(StandardCharsets.UTF_8)), version,
                "Update config vars", "succeeded");
    }
}
