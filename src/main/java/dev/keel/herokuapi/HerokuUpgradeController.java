package dev.keel.herokuapi;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.lifecycle.Upgrade;
import dev.keel.lifecycle.UpgradeState;
import dev.keel.lifecycle.Upgrades;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code heroku pg:upgrade:prepare}, {@code run}, {@code dryrun}, {@code cancel} and {@code wait}:
 * Keel's online upgrades through logical replication. A prepared upgrade waits for
 * {@code pg:upgrade:run} (Keel has no maintenance windows); {@code wait} follows the newest one.
 */
@Controller("/client/v11/databases/{addon}/upgrade")
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuUpgradeController {
    private final HerokuAddons addons;
    private final Upgrades upgrades;

    HerokuUpgradeController(HerokuAddons addons, Upgrades upgrades) {
        this.addons = addons;
        this.upgrades = upgrades;
    }

    @Serdeable
    record VersionRequest(@Nullable String version) {
    }

    @Serdeable
    record Message(String message) {
    }

    @Post("/prepare")
    Message prepare(Caller caller, String addon, @Body @Nullable VersionRequest request) throws SQLException {
        Database database = addons.database(caller, addon);
        Upgrade prepared = upgrades.prepare(database, version(request));
        return new Message("Your database " + database.name() + " is ready to upgrade to Postgres " + prepared.toMajor()
                + ". Run `heroku pg:upgrade:run` to start it; Keel upgrades online, with a write pause of a few seconds.");
    }

    @Post("/run")
    Message run(Caller caller, String addon, @Body @Nullable VersionRequest request) throws SQLException {
        Database database = addons.database(caller, addon);
        Upgrade started = upgrades.run(database, version(request));
        return new Message("Upgrading " + database.name() + " to Postgres " + started.toMajor() + ". Use `heroku pg:upgrade:wait` to"
                + " follow it.");
    }

    @Post("/dry_run")
    Message dryRun(Caller caller, String addon, @Body @Nullable VersionRequest request) throws SQLException {
        Database database = addons.database(caller, addon);
        Upgrade started = upgrades.dryRun(database, version(request));
        return new Message("Testing an upgrade of a copy of " + database.name() + " to Postgres " + started.toMajor() + ". Use `heroku"
                + " pg:upgrade:wait` to see how it went.");
    }

    @Post("/cancel")
    Message cancel(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        upgrades.cancel(database);
        return new Message("The upgrade of " + database.name() + " is canceled.");
    }

    @Get("/wait_status")
    Map<String, Object> waitStatus(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        Optional<Upgrade> newest = upgrades.newest(database);
        Map<String, Object> status = new LinkedHashMap<>();
        boolean running = newest.map(u -> u.state() == UpgradeState.RUNNING).orElse(false);
        boolean failed = newest.map(u -> u.state() == UpgradeState.FAILED).orElse(false);
        status.put("waiting?", running);
        status.put("error?", failed);
        status.put("message", newest.map(u -> running ? "Upgrading to Postgres " + u.toMajor()
                : u.message() == null ? u.state().value() : u.message()).orElse("No upgrade."));
        newest.flatMap(upgrades::step).ifPresent(step -> status.put("step", step));
        return status;
    }

    @Nullable
    private static Integer version(@Nullable VersionRequest request) {
        return request == null ? null : Upgrades.major(request.version());
    }
}
