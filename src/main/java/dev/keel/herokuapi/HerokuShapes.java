package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.credentials.Credential;
import dev.keel.databases.Database;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.context.ServerRequestContext;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Keel's databases and attachments in the shapes of Heroku's Platform API: a database is an
 * add-on of service {@code heroku-postgresql} (configurable, as the CLI's
 * {@code HEROKU_DATA_SERVICE} is) with plan {@code heroku-postgresql:<plan>}; its owning app is
 * the app it was first attached to.
 */
@Singleton
final class HerokuShapes {
    /** Monthly prices shown by {@code heroku addons}, in cents: Heroku Postgres' list prices for the matching tiers. */
    private static final Map<String, Integer> CENTS = Map.of("essential-0", 500, "standard-0", 5000, "premium-0", 20000);

    private final String service;

    HerokuShapes(@Value("${keel.heroku.service}") String service) {
        this.service = service;
    }

    @Serdeable
    record Named(@Nullable UUID id, @Nullable String name) {
    }

    /** A request's reference by name, as in {@code {"plan":{"name":...}}} or {@code {"app":{"name":...}}}. */
    @Serdeable
    record NameRef(@Nullable String name) {
    }

    @Serdeable
    record Price(int cents, String unit, boolean contract, boolean metered) {
    }

    @Serdeable
    record BilledPrice(int cents, boolean contract, String unit) {
    }

    @Serdeable
    record PlanRef(UUID id, String name, Price price) {
    }

    @Serdeable
    record Addon(UUID id, String name, String state, OffsetDateTime createdAt, Named app, Named addonService, PlanRef plan,
                 BilledPrice billedPrice, List<String> configVars, @Nullable String provisionMessage, @Nullable String webUrl) {
        Addon withState(String newState) {
            return new Addon(id, name, newState, createdAt, app, addonService, plan, billedPrice, configVars, provisionMessage, webUrl);
        }

        Addon withProvisionMessage(@Nullable String message) {
            return new Addon(id, name, state, createdAt, app, addonService, plan, billedPrice, configVars, message, webUrl);
        }
    }

    @Serdeable
    record AttachmentAddon(UUID id, String name, Named app, PlanRef plan) {
    }

    @Serdeable
    record AddonAttachment(UUID id, String name, @Nullable String namespace, List<String> configVars, Named app, AttachmentAddon addon,
                           @Nullable String webUrl) {
    }

    String service() {
        return service;
    }

    /** The Keel plan of a Heroku plan name ({@code heroku-postgresql:standard-0} or {@code standard-0}). */
    String keelPlan(@Nullable String herokuPlan) {
        return herokuPlan != null && herokuPlan.startsWith(service + ":") ? herokuPlan.substring(service.length() + 1) : herokuPlan;
    }

    /** {@code owner} is the database's first attachment (its owning app), if any; {@code configVars} are its vars there. */
    Addon addon(Database database, @Nullable Attachment owner, List<String> configVars, @Nullable String provisionMessage) {
        int cents = CENTS.getOrDefault(database.plan(), 0);
        return new Addon(database.id(), database.name(), state(database), database.createdAt(), owner == null ? new Named(null, null)
                : new Named(owner.appId(), owner.appName()), serviceRef(), plan(database),
                new BilledPrice(cents, false, "month"), configVars, provisionMessage, webUrl(database));
    }

    AddonAttachment attachment(Attachment attachment, Database database, @Nullable Attachment owner) {
        String namespace = attachment.pooled() ? "connection-pooling:" + attachment.credential()
                : Credential.DEFAULT.equals(attachment.credential()) ? null : "credential:" + attachment.credential();
        return new AddonAttachment(attachment.id(), attachment.name(), namespace,
                List.of(attachment.configVar()), new Named(attachment.appId(), attachment.appName()),
                new AttachmentAddon(database.id(), database.name(), owner == null ? new Named(null, null)
                        : new Named(owner.appId(), owner.appName()), plan(database)), webUrl(database));
    }

    /**
     * Where a database's details are: its resource in Keel's API, at the address the CLI reached
     * Keel by (Keel has no add-on dashboard; {@code addons:open} shows this).
     */
    @Nullable
    private static String webUrl(Database database) {
        return ServerRequestContext.currentRequest().map(r -> HerokuRequests.baseUrl(r) + "/v1/databases/" + database.id()).orElse(null);
    }

    private PlanRef plan(Database database) {
        return plan(database.plan());
    }

    /** Keel's plan {@code plan} as Heroku names and prices it ({@code heroku-postgresql:standard-0}). */
    PlanRef plan(String plan) {
        return new PlanRef(uuid("plan:" + plan), service + ":" + plan, new Price(CENTS.getOrDefault(plan, 0), "month", false, false));
    }

    /** The add-on service every Keel database is an add-on of. */
    Named serviceRef() {
        return new Named(uuid("service:" + service), service);
    }

    /** Heroku's add-on states: provisioning, provisioned, deprovisioning, deprovisioned (a failed database is gone to its users). */
    static String state(Database database) {
        switch (database.state()) {
            case CREATING:
                return "provisioning";
            case AVAILABLE:
                return "provisioned";
            case DELETING:
                return "deprovisioning";
            default:
                return "deprovisioned";
        }
    }

    private static UUID uuid(String name) {
        return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
    }
}
