package dev.keel.databases;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASE_SETTINGS;

/** The settings each database's owner chose, in the catalog. */
@Singleton
public final class SettingsRepository {
    private final DSLContext dsl;

    SettingsRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** Setting name to value, in name order; empty when none was ever set. */
    public Map<String, String> of(UUID databaseId) {
        Map<String, String> settings = new LinkedHashMap<>();
        dsl.selectFrom(DATABASE_SETTINGS).where(DATABASE_SETTINGS.DATABASE_ID.eq(databaseId)).orderBy(DATABASE_SETTINGS.NAME)
                .forEach(r -> settings.put(r.getName(), r.getValue()));
        return settings;
    }

    public void put(UUID databaseId, Map<String, String> values) {
        dsl.transaction(tx -> values.forEach((name, value) -> tx.dsl().insertInto(DATABASE_SETTINGS)
                .set(DATABASE_SETTINGS.DATABASE_ID, databaseId).set(DATABASE_SETTINGS.NAME, name).set(DATABASE_SETTINGS.VALUE, value)
                .onConflict(DATABASE_SETTINGS.DATABASE_ID, DATABASE_SETTINGS.NAME).doUpdate().set(DATABASE_SETTINGS.VALUE, value)
                .set(DATABASE_SETTINGS.UPDATED_AT, DSL.currentOffsetDateTime()).execute()));
    }

    /** A new database made from {@code sourceId} (fork, rollback, follower) starts with its settings. */
    public void copy(DSLContext tx, UUID sourceId, UUID databaseId) {
        tx.insertInto(DATABASE_SETTINGS, DATABASE_SETTINGS.DATABASE_ID, DATABASE_SETTINGS.NAME, DATABASE_SETTINGS.VALUE)
                .select(DSL.select(DSL.val(databaseId), DATABASE_SETTINGS.NAME, DATABASE_SETTINGS.VALUE).from(DATABASE_SETTINGS)
                        .where(DATABASE_SETTINGS.DATABASE_ID.eq(sourceId)))
                .execute();
    }
}
