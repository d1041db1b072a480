package dev.keel.addons;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.ADDON_RESOURCES;

/** Add-on resources in the catalog. */
@Singleton
final class AddonRepository {
    private final DSLContext dsl;

    AddonRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    void insert(UUID id, UUID databaseId, String plan, String callbackUrl) {
        dsl.insertInto(ADDON_RESOURCES).set(ADDON_RESOURCES.ID, id).set(ADDON_RESOURCES.DATABASE_ID, databaseId)
                .set(ADDON_RESOURCES.PLAN, plan).set(ADDON_RESOURCES.CALLBACK_URL, callbackUrl)
                .set(ADDON_RESOURCES.STATE, AddonResource.PROVISIONING).execute();
    }

    /** By the platform's uuid or by the database's id (which the provision answer gave as {@code id}). */
    Optional<AddonResource> find(UUID id) {
        return dsl.selectFrom(ADDON_RESOURCES).where(ADDON_RESOURCES.ID.eq(id).or(ADDON_RESOURCES.DATABASE_ID.eq(id)))
                .fetchOptional(AddonRepository::toResource);
    }

    Optional<AddonResource> ofDatabase(UUID databaseId) {
        return dsl.selectFrom(ADDON_RESOURCES).where(ADDON_RESOURCES.DATABASE_ID.eq(databaseId)).fetchOptional(AddonRepository::toResource);
    }

    List<AddonResource> inState(String state) {
        return dsl.selectFrom(ADDON_RESOURCES).where(ADDON_RESOURCES.STATE.eq(state)).fetch(AddonRepository::toResource);
    }

    void update(UUID id, String state, String plan) {
        dsl.update(ADDON_RESOURCES).set(ADDON_RESOURCES.STATE, state).set(ADDON_RESOURCES.PLAN, plan)
                .set(ADDON_RESOURCES.UPDATED_AT, DSL.currentOffsetDateTime()).where(ADDON_RESOURCES.ID.eq(id)).execute();
    }

    private static AddonResource toResource(Record r) {
        return new AddonResource(r.get(ADDON_RESOURCES.ID), r.get(ADDON_RESOURCES.DATABASE_ID), r.get(ADDON_RESOURCES.PLAN),
                r.get(ADDON_RESOURCES.CALLBACK_URL), r.get(ADDON_RESOURCES.STATE));
    }
}
