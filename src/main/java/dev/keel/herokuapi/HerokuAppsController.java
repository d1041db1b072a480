package dev.keel.herokuapi;

import dev.keel.apps.App;
import dev.keel.apps.Apps;
import dev.keel.auth.Caller;
import dev.keel.auth.Teams;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.lifecycle.DatabaseDelete;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.util.Comparator;
import java.util.List;

/**
 * {@code heroku apps*}: Keel's apps (the same ones as {@code /v1/apps}) through Heroku's Platform
 * API. Destroying an app destroys the add-ons it owns (the databases first attached to it), as
 * Heroku does and as the CLI warns; {@code /v1/apps} deletion only detaches.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuAppsController {
    private final Apps apps;
    private final Teams teams;
    private final HerokuAddons addons;
    private final DatabaseLookup databases;
    private final DatabaseDelete delete;

    HerokuAppsController(Apps apps, Teams teams, HerokuAddons addons, DatabaseLookup databases, DatabaseDelete delete) {
        this.apps = apps;
        this.teams = teams;
        this.addons = addons;
        this.databases = databases;
        this.delete = delete;
    }

    @Serdeable
    record CreateApp(@Nullable String name, @Nullable String region, @Nullable String stack, @Nullable String space,
                     @Nullable String team) {
    }

    @Serdeable
    record UpdateApp(@Nullable String name, @Nullable Boolean maintenance, @Nullable String buildStack) {
    }

    @Post("/apps")
    HttpResponse<HerokuAppShapes.HerokuApp> create(Caller caller, HttpRequest<?> request, @Body @Nullable CreateApp body) {
        CreateApp wanted = body == null ? new CreateApp(null, null, null, null, null) : body;
        if (wanted.space() != null) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Keel has no private spaces: its databases run on the machines Keel"
                    + " runs on. Create the app without --space.");
        }
        if (wanted.region() != null && !wanted.region().equals(HerokuAppShapes.REGION)) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Keel has no regions: its databases run on the machines Keel runs on."
                    + " Create the app without --region.");
        }
        if (wanted.stack() != null) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Keel builds and runs no code, so an app here has no stack."
                    + " Create the app without --stack.");
        }
        if (wanted.team() != null && !wanted.team().equals(teams.of(caller).name())) {
            throw new KeelException(ProblemType.NOT_FOUND, "Your API key belongs to team " + teams.of(caller).name() + ", not "
                    + wanted.team() + "; use a key of that team (POST /v1/api-keys).");
        }
        return HttpResponse.created(shape(caller, request, apps.createNamedOrNot(caller, wanted.name())));
    }

    /** {@code apps:create --team}: the caller's own team only. */
    @Post("/teams/apps")
    HttpResponse<HerokuAppShapes.HerokuApp> createInTeam(Caller caller, HttpRequest<?> request, @Body @Nullable CreateApp body) {
        return create(caller, request, body);
    }

    @Get("/apps")
    List<HerokuAppShapes.HerokuApp> list(Caller caller, HttpRequest<?> request) {
        return apps.list(caller).stream().map(app -> shape(caller, request, app)).toList();
    }

    /** {@code heroku apps}: the caller's apps ({@code ~} is the caller; any other user is not known here). */
    @Get("/users/{user}/apps")
    List<HerokuAppShapes.HerokuApp> ofUser(Caller caller, HttpRequest<?> request, String user) {
        if (!user.equals("~") && !user.equals(teams.of(caller).name()) && !user.equals(caller.teamId().toString())) {
            throw new KeelException(ProblemType.NOT_FOUND, "Keel knows one account per API key, its team " + teams.of(caller).name()
                    + "; ask for ~.");
        }
        return list(caller, request);
    }

    @Get("/teams/{team}/apps")
    List<HerokuAppShapes.HerokuApp> ofTeam(Caller caller, HttpRequest<?> request, String team) {
        String own = teams.of(caller).name();
        if (!team.equals(own) && !team.equals(caller.teamId().toString())) {
            throw new KeelException(ProblemType.NOT_FOUND, "Your API key belongs to team " + own + ", not " + team + ".");
        }
        return list(caller, request);
    }

    @Get("/apps/{app}")
    HerokuAppShapes.HerokuApp show(Caller caller, HttpRequest<?> request, String app) {
        return shape(caller, request, apps.require(caller, app));
    }

    @Patch("/apps/{app}")
    HerokuAppShapes.HerokuApp update(Caller caller, HttpRequest<?> request, String app, @Body UpdateApp body) {
        if (body.maintenance() != null || body.buildStack() != null) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Keel runs no code, so an app here has no maintenance mode or stack;"
                    + " only its name can change.");
        }
        if (body.name() == null) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Say the app's new name: {\"name\": \"...\"}.");
        }
        return shape(caller, request, apps.rename(caller, app, body.name()));
    }

    /** Destroys the add-ons the app owns (followers first, a leader's other followers made independent), then the app. */
    @Delete("/apps/{app}")
    HerokuAppShapes.HerokuApp destroy(Caller caller, HttpRequest<?> request, String app) {
        App found = apps.require(caller, app);
        HerokuAppShapes.HerokuApp shown = shape(caller, request, found);
        List<Database> owned = databases.list(caller).stream().filter(d -> d.state() != DatabaseState.DELETING)
                .filter(d -> addons.owner(d).map(o -> o.appId().equals(found.id())).orElse(false))
                .sorted(Comparator.comparing(d -> !d.following())).toList();
        for (Database database : owned) {
            delete.accept(caller, database.id().toString(), true);
        }
        apps.delete(caller, app);
        return shown;
    }

    @Get("/account")
    HerokuAppShapes.Account account(Caller caller) {
        Teams.Team team = teams.of(caller);
        return new HerokuAppShapes.Account(team.id(), team.name(), team.name(), true, false, team.createdAt());
    }

    /** Keel runs no dynos: an app has none (as {@code apps:info} lists them). */
    @Get("/apps/{app}/dynos")
    List<Object> dynos(Caller caller, String app) {
        apps.require(caller, app);
        return List.of();
    }

    /** A Keel app has no collaborators of its own: its team's keys reach it. */
    @Get("/apps/{app}/collaborators")
    List<Object> collaborators(Caller caller, String app) {
        apps.require(caller, app);
        return List.of();
    }

    private HerokuAppShapes.HerokuApp shape(Caller caller, HttpRequest<?> request, App app) {
        Teams.Team team = teams.of(caller);
        return HerokuAppShapes.app(app, new HerokuAppShapes.Owner(team.id(), team.name()), HerokuRequests.baseUrl(request));
    }
}
