package dev.keel.herokuapi;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.keel.apps.Apps;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseRename;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.lifecycle.DatabasePlanChange;
import dev.keel.operations.Operation;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Produces;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * The add-on service Keel is ({@code addons:services}, {@code addons:plans}, {@code addons:docs})
 * and changes to an add-on: {@code addons:upgrade}/{@code downgrade} run Keel's plan change (its
 * message says whether the server restarts; followers that block it are named) and
 * {@code addons:rename} renames the database.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuPlansController {
    private static final OffsetDateTime SINCE = OffsetDateTime.of(2026, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);

    private final HerokuShapes shapes;
    private final HerokuAddons addons;
    private final Plans plans;
    private final DatabasePlanChange planChange;
    private final DatabaseRename rename;
    private final Apps apps;

    HerokuPlansController(HerokuShapes shapes, HerokuAddons addons, Plans plans, DatabasePlanChange planChange, DatabaseRename rename,
                          Apps apps) {
        this.shapes = shapes;
        this.addons = addons;
        this.plans = plans;
        this.planChange = planChange;
        this.rename = rename;
        this.apps = apps;
    }

    @Serdeable
    record Service(UUID id, String name, String humanName, String state, boolean supportsMultipleInstallations,
                   boolean supportsSharing, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
    }

    @Serdeable
    record HerokuPlan(UUID id, String name, String humanName, String description, @JsonProperty("default") boolean isDefault, String state,
                      HerokuShapes.Price price, HerokuShapes.Named addonService, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
    }

    @Serdeable
    record Change(@Nullable HerokuShapes.NameRef plan, @Nullable String name) {
    }

    @Get("/addon-services")
    List<Service> services() {
        return List.of(service());
    }

    @Get("/addon-services/{service}")
    Service service(String service) {
        requireService(service);
        return service();
    }

    @Get("/addon-services/{service}/plans")
    List<HerokuPlan> plans(String service) {
        requireService(service);
        return plans.all().stream().map(this::plan).toList();
    }

    /** {@code addons:upgrade}, {@code addons:downgrade} ({@code plan}) and {@code addons:rename} ({@code name}). */
    @Patch("/apps/{app}/addons/{addon}")
    HerokuShapes.Addon change(Caller caller, String app, String addon, @Body Change body) {
        if (apps.list(caller).stream().noneMatch(a -> a.name().equals(app) || a.id().toString().equals(app))) {
            throw KeelException.notFound("app", app);
        }
        Database database = addons.database(caller, addon);
        // The plan is checked before the rename, so that a request refused for its plan changes nothing.
        String wanted = body.plan() == null || body.plan().name() == null ? null : shapes.keelPlan(body.plan().name());
        if (wanted != null && plans.find(wanted).isEmpty()) {
            throw new KeelException(ProblemType.UNKNOWN_PLAN, "Couldn't find either the add-on service or the add-on plan of \""
                    + body.plan().name() + "\".");
        }
        if (body.name() != null) {
            database = rename.rename(caller, database.id().toString(), body.name());
        }
        if (wanted == null) {
            return addons.addon(database, null);
        }
        DatabasePlanChange.Changed changed = planChange.accept(caller, database.id().toString(), wanted);
        String message = changed.operation().map(Operation::step).map(step -> "Keel is " + step + ".")
                .orElse(database.name() + " is on plan " + wanted + " already; nothing changed.");
        return addons.addon(changed.database(), message);
    }

    private void requireService(String service) {
        if (!service.equals(shapes.service()) && !service.equals(shapes.serviceRef().id().toString())) {
            throw new KeelException(ProblemType.NOT_FOUND, "Keel is one add-on service, " + shapes.service() + "; there is no "
                    + service + " here.");
        }
    }

    private Service service() {
        HerokuShapes.Named ref = shapes.serviceRef();
        return new Service(ref.id(), ref.name(), "Keel Postgres", "ga", true, true, SINCE, SINCE);
    }

    private HerokuPlan plan(Plan plan) {
        HerokuShapes.PlanRef ref = shapes.plan(plan.name());
        String tier = plan.tier().substring(0, 1).toUpperCase(Locale.ROOT) + plan.tier().substring(1);
        String description = plan.connections() + " connections, " + plan.storageGb() + " GB"
                + (plan.rollbackWindowDays() > 0 ? ", rollback " + plan.rollbackWindowDays() + " days" : "")
                + (plan.follow() ? ", fork and follow" : "") + (plan.ha() ? ", HA standby" : "");
        return new HerokuPlan(ref.id(), ref.name(), tier + " " + plan.name().substring(plan.name().lastIndexOf('-') + 1), description,
                plan.name().equals("essential-0"), "public", ref.price(), shapes.serviceRef(), SINCE, SINCE);
    }
}
