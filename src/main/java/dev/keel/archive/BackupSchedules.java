package dev.keel.archive;

import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUP_SCHEDULES;

/**
 * The UTC hour of each database's daily base backup: the owner's choice, or one that follows from
 * the database's id, so that databases nobody scheduled spread over the day.
 */
@Singleton
public final class BackupSchedules {
    private final DSLContext dsl;

    BackupSchedules(DSLContext dsl) {
        this.dsl = dsl;
    }

    public int hour(UUID database) {
        return dsl.select(BACKUP_SCHEDULES.HOUR).from(BACKUP_SCHEDULES).where(BACKUP_SCHEDULES.DATABASE_ID.eq(database))
                .fetchOptional(BACKUP_SCHEDULES.HOUR).orElse(Math.floorMod(database.hashCode(), 24));
    }

    void setHour(UUID database, int hour) {
        dsl.insertInto(BACKUP_SCHEDULES).set(BACKUP_SCHEDULES.DATABASE_ID, database).set(BACKUP_SCHEDULES.HOUR, hour)
                .onConflict(BACKUP_SCHEDULES.DATABASE_ID).doUpdate()
                .set(BACKUP_SCHEDULES.HOUR, hour).set(BACKUP_SCHEDULES.UPDATED_AT, DSL.currentOffsetDateTime())
                .execute();
    }

    void delete(UUID database) {
        dsl.deleteFrom(BACKUP_SCHEDULES).where(BACKUP_SCHEDULES.DATABASE_ID.eq(database)).execute();
    }
}
