package dev.keel.addons;

import dev.keel.problems.KeelException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * {@code /heroku/resources}: the Add-on Partner API v3 provider endpoints. Unknown fields of a
 * body are ignored; errors are problem+json that also carry {@code message}, which the platform
 * shows its user.
 */
@Controller("/heroku/resources")
@Produces({MediaType.APPLICATION_JSON, ResourcesController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class ResourcesController {
    /** What Heroku's clients send in {@code Accept} ({@code ; version=3} appended). */
    static final String HEROKU_JSON = "application/vnd.heroku+json";

    private final AddonResources resources;

    ResourcesController(AddonResources resources) {
        this.resources = resources;
    }

    /** The v3 provision body; {@code region}, {@code options} and {@code log_drain_token} are read and not used. */
    @Serdeable
    record ProvisionRequest(@Nullable String uuid, @Nullable String plan, @Nullable String region, @Nullable String callbackUrl,
                            @Nullable String name, @Nullable Map<String, Object> options, @Nullable String logDrainToken) {
    }

    @Serdeable
    record PlanRequest(@Nullable String plan) {
    }

    @Serdeable
    record Started(UUID id, String message) {
    }

    @Serdeable
    record Ready(UUID id, Map<String, String> config, String message) {
    }

    @Serdeable
    record Message(String message) {
    }

    @Post
    HttpResponse<?> provision(@Body ProvisionRequest request) {
        AddonResources.Provisioned provisioned = answering(() -> resources.provision(request.uuid(), request.plan(), request.name(),
                request.callbackUrl()));
        return provisioned.config() != null ? HttpResponse.ok(new Ready(provisioned.id(), provisioned.config(), provisioned.message()))
                : HttpResponse.accepted().body(new Started(provisioned.id(), provisioned.message()));
    }

    @Put("/{id}")
    Message changePlan(String id, @Body PlanRequest request) {
        return new Message(answering(() -> resources.changePlan(id, request.plan())));
    }

    @Delete("/{id}")
    HttpResponse<Void> deprovision(String id) {
        answering(() -> {
            resources.deprovision(id);
            return null;
        });
        return HttpResponse.noContent();
    }

    private static <T> T answering(Supplier<T> call) {
        try {
            return call.get();
        } catch (KeelException e) {
            throw e.with("message", e.getMessage());
        }
    }
}
