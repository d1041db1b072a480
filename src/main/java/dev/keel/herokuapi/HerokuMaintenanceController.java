package dev.keel.herokuapi;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.lifecycle.DatabaseSettings;
import dev.keel.maintenance.DefaultCredentialRepair;
import dev.keel.maintenance.Reset;
import dev.keel.maintenance.SessionsEnd;
import dev.keel.maintenance.StatisticsReset;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.json.tree.JsonNode;
import io.micronaut.serde.annotation.Serdeable;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Data API calls of {@code heroku pg:reset}, {@code pg:killall},
 * {@code pg:credentials:repair-default}, {@code pg:stats-reset} and {@code pg:settings*}.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuMaintenanceController {
    private final HerokuAddons addons;
    private final Reset reset;
    private final SessionsEnd sessions;
    private final DefaultCredentialRepair repair;
    private final StatisticsReset statistics;
    private final DatabaseSettings settings;

    HerokuMaintenanceController(HerokuAddons addons, Reset reset, SessionsEnd sessions, DefaultCredentialRepair repair,
                                StatisticsReset statistics, DatabaseSettings settings) {
        this.addons = addons;
        this.reset = reset;
        this.sessions = sessions;
        this.repair = repair;
        this.statistics = statistics;
        this.settings = settings;
    }

    @Serdeable
    record ResetRequest(@Nullable List<String> extensions) {
    }

    @Serdeable
    record Message(String message) {
    }

    @Put("/client/v11/databases/{addon}/reset")
    Message reset(Caller caller, String addon, @Body @Nullable ResetRequest request) {
        Database database = addons.database(caller, addon);
        reset.reset(database, request == null || request.extensions() == null ? List.of() : request.extensions());
        return new Message(database.name() + " is reset: every object in it is gone; its credentials and attachments stay.");
    }

    @Post("/client/v11/databases/{addon}/connection_reset")
    Message connectionReset(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        int ended = sessions.endAll(database);
        return new Message("Ended " + ended + " connection" + (ended == 1 ? "" : "s") + " to " + database.name() + ".");
    }

    @Post("/postgres/v0/databases/{addon}/repair-default")
    Message repairDefault(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        repair.repair(database);
        return new Message("The default credential of " + database.name() + " owns the database and its objects again.");
    }

    @Put("/client/v11/databases/{addon}/stats_reset")
    Message statsReset(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        statistics.reset(database);
        return new Message("Statistics of " + database.name() + " (tables, indexes, functions and pg_stat_statements) are reset.");
    }

    @Get("/postgres/v0/databases/{addon}/config")
    Map<String, DatabaseSettings.Setting> config(Caller caller, String addon) {
        return settings.show(caller, addons.database(caller, addon).id().toString());
    }

    /** The body is read as a tree: a value the CLI could not read (a number it parsed as NaN) arrives as null and is refused as such. */
    @Patch("/postgres/v0/databases/{addon}/config")
    Map<String, DatabaseSettings.Setting> changeConfig(Caller caller, String addon, @Body JsonNode changes) throws Exception {
        Map<String, Object> values = new LinkedHashMap<>();
        if (changes != null && changes.isObject()) {
            for (Map.Entry<String, JsonNode> entry : changes.entries()) {
                JsonNode value = entry.getValue();
                values.put(entry.getKey(), value.isNull() ? null : value.isBoolean() ? value.getBooleanValue()
                        : value.isNumber() ? value.getNumberValue() : value.isString() ? value.getStringValue() : value.toString());
            }
        }
        return settings.change(caller, addons.database(caller, addon).id().toString(), values);
    }
}
