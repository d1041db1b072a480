package dev.keel.addons;

import dev.keel.apps.ConfigVars;
import dev.keel.auth.Caller;
import dev.keel.auth.Teams;
import dev.keel.credentials.Credential;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseAvailable;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import dev.keel.lifecycle.DatabaseCreate;
import dev.keel.lifecycle.DatabaseDelete;
import dev.keel.lifecycle.DatabasePlanChange;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Add-on resources as Partner API v3 asks: provision (idempotent by the platform's uuid, since
 * deliveries are at least once), change plan, deprovision. A resource is a database of the
 * add-on team; when it becomes available the platform is called back with its config var.
 */
@Singleton
public final class AddonResources implements ApplicationEventListener<DatabaseAvailable> {
    private final AddonSettings settings;
    private final AddonRepository repository;
    private final Teams teams;
    private final Plans plans;
    private final DatabaseLookup databases;
    private final DatabaseCreate create;
    private final DatabaseDelete delete;
    private final DatabasePlanChange planChange;
    private final ConfigVars configVars;
    private final ProvisionCallbacks callbacks;

    AddonResources(AddonSettings settings, AddonRepository repository, Teams teams, Plans plans, DatabaseLookup databases,
                   DatabaseCreate create, DatabaseDelete delete, DatabasePlanChange planChange, ConfigVars configVars,
                   ProvisionCallbacks callbacks) {
        this.settings = settings;
        this.repository = repository;
        this.teams = teams;
        this.plans = plans;
        this.databases = databases;
        this.create = create;
        this.delete = delete;
        this.planChange = planChange;
        this.configVars = configVars;
        this.callbacks = callbacks;
    }

    /** A provision's answer: {@code config} is set when the database is ready now (200), null while it is being made (202). */
    record Provisioned(UUID id, @Nullable Map<String, String> config, String message) {
    }

    /**
     * Provisions a database for resource {@code uuid}, or answers for the one it already has.
     * Synchronized: one Keel node works on the catalog, and two deliveries of one provision must
     * not make two databases.
     */
    synchronized Provisioned provision(@Nullable String uuid, @Nullable String planName, @Nullable String name, @Nullable String callbackUrl) {
        UUID id = parseUuid(uuid);
        String plan = plans.require(settings.planName(planName)).name();
        if (callbackUrl != null && !callbackUrl.isBlank()) {
            CallbackUrl.require(callbackUrl);
        }
        Optional<AddonResource> existing = repository.find(id);
        if (existing.isPresent()) {
            if (AddonResource.DEPROVISIONED.equals(existing.get().state())) {
                throw new KeelException(ProblemType.DEPROVISIONED, "Add-on resource " + id + " was deprovisioned; provision a new one.");
            }
            return answer(existing.get());
        }
        Caller caller = caller();
        Accepted accepted;
        try {
            accepted = create.accept(caller, new CreateDatabaseRequest(plan, name, null));
        } catch (KeelException e) {
            if (e.type() != ProblemType.INVALID_NAME && e.type() != ProblemType.NAME_TAKEN) {
                throw e;
            }
            accepted = create.accept(caller, new CreateDatabaseRequest(plan, null, null)); // the platform's name is only a wish
        }
        repository.insert(id, accepted.database().id(), plan, callbackUrl);
        AddonResource resource = repository.find(id).orElseThrow();
        // It may have become available before the row above existed, when its listener found nothing to call back.
        configVars.url(resource.databaseId(), Credential.DEFAULT).ifPresent(url -> callbacks.provisioned(resource, url.toString()));
        return answer(resource);
    }

    private Provisioned answer(AddonResource resource) {
        Optional<String> url = configVars.url(resource.databaseId(), Credential.DEFAULT).map(Object::toString);
        String name = databases.find(resource.databaseId()).map(Database::name).orElse(resource.databaseId().toString());
        if (url.isPresent()) {
            return new Provisioned(resource.databaseId(), Map.of(settings.configVar(), url.get()), "Database " + name + " is ready.");
        }
        return new Provisioned(resource.databaseId(), null, "Keel is provisioning database " + name + "; " + settings.configVar()
                + " is set when it is ready, usually within a minute.");
    }

    /** Changes the resource's plan; the same plan changes nothing. */
    String changePlan(String resourceId, @Nullable String planName) {
        AddonResource resource = require(resourceId);
        DatabasePlanChange.Changed changed = planChange.accept(caller(), resource.databaseId().toString(), settings.planName(planName));
        repository.update(resource.id(), resource.state(), changed.database().plan());
        return changed.operation().isEmpty() ? "Database " + changed.database().name() + " is on plan " + changed.database().plan() + " already."
                : "Database " + changed.database().name() + " is changing to plan " + changed.database().plan() + ": "
                + changed.operation().get().step() + ".";
    }

    /** Deprovisions the resource's database (its followers become independent); again is fine. */
    void deprovision(String resourceId) {
        AddonResource resource = require(resourceId);
        if (AddonResource.DEPROVISIONED.equals(resource.state())) {
            return;
        }
        Optional<Database> database = databases.find(resource.databaseId());
        if (database.isPresent() && database.get().state() != DatabaseState.DELETING) {
            delete.accept(caller(), resource.databaseId().toString(), true);
        }
        repository.update(resource.id(), AddonResource.DEPROVISIONED, resource.plan());
    }

    /** Tells the platform about resources that became ready while a callback could not be made (at Keel's start). */
    public void resume() {
        for (AddonResource resource : repository.inState(AddonResource.PROVISIONING)) {
            configVars.url(resource.databaseId(), Credential.DEFAULT).ifPresent(url -> callbacks.provisioned(resource, url.toString()));
        }
    }

    @Override
    public void onApplicationEvent(DatabaseAvailable event) {
        repository.ofDatabase(event.database().id()).filter(r -> AddonResource.PROVISIONING.equals(r.state()))
                .ifPresent(resource -> configVars.url(resource.databaseId(), Credential.DEFAULT)
                        .ifPresent(url -> callbacks.provisioned(resource, url.toString())));
    }

    private AddonResource require(String resourceId) {
        UUID id;
        try {
            id = UUID.fromString(resourceId);
        } catch (IllegalArgumentException e) {
            throw KeelException.notFound("add-on resource", resourceId);
        }
        return repository.find(id).orElseThrow(() -> KeelException.notFound("add-on resource", resourceId));
    }

    private Caller caller() {
        return new Caller(teams.platform(settings.team()).id(), null, false);
    }

    private static UUID parseUuid(@Nullable String uuid) {
        try {
            return UUID.fromString(uuid == null ? "" : uuid);
        } catch (IllegalArgumentException e) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"uuid\" must be the add-on resource's UUID, such as"
                    + " 01234567-89ab-cdef-0123-456789abcdef.");
        }
    }
}
