package dev.keel.dumps;

import dev.keel.databases.Database;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import static dev.keel.catalog.schema.Tables.TRANSFER_SCHEDULES;

/**
 * Daily logical backups ({@code pg:backups:schedule --at '02:00 America/New_York'}): one schedule
 * per database, at an hour of a time zone, named after the config var it was set through.
 */
@Singleton
public final class DumpSchedules {
    /** A config var's name, as an attachment names it ({@code DATABASE_URL}): what the CLI sends as {@code schedule_name}. */
    private static final Pattern NAME = Pattern.compile("[A-Z][A-Z0-9_]{0,62}");

    private final DSLContext dsl;

    DumpSchedules(DSLContext dsl) {
        this.dsl = dsl;
    }

    public record Schedule(UUID id, UUID databaseId, String name, int hour, String timezone, Instant createdAt) {
        ZoneId zone() {
            return ZoneId.of(timezone);
        }
    }

    /**
     * Sets (or replaces) the database's schedule; 422 for a name that is not a config var's, an
     * hour outside 0-23 or a zone that is not an IANA name.
     */
    public Schedule set(Database database, String name, int hour, String timezone) {
        if (!NAME.matcher(name).matches()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "A schedule is named after the config var it backs up, such as"
                    + " DATABASE_URL: uppercase letters, digits and underscores, at most 63.");
        }
        if (hour < 0 || hour > 23) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "The hour of a daily backup is 0 to 23, not " + hour + ".");
        }
        String zone;
        try {
            zone = ZoneId.of(timezone == null || timezone.isBlank() ? "UTC" : timezone.strip()).getId();
        } catch (DateTimeException e) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "'" + timezone + "' is not a time zone; say an IANA name such as"
                    + " America/New_York or Europe/Paris, or UTC.");
        }
        return dsl.insertInto(TRANSFER_SCHEDULES)
                .set(TRANSFER_SCHEDULES.ID, UUID.randomUUID())
                .set(TRANSFER_SCHEDULES.DATABASE_ID, database.id())
                .set(TRANSFER_SCHEDULES.NAME, name)
                .set(TRANSFER_SCHEDULES.HOUR, hour)
                .set(TRANSFER_SCHEDULES.TIMEZONE, zone)
                .onConflict(TRANSFER_SCHEDULES.DATABASE_ID).doUpdate()
                .set(TRANSFER_SCHEDULES.NAME, name)
                .set(TRANSFER_SCHEDULES.HOUR, hour)
                .set(TRANSFER_SCHEDULES.TIMEZONE, zone)
                .returning()
                .fetchSingle(DumpSchedules::toSchedule);
    }

    public List<Schedule> of(UUID databaseId) {
        return dsl.selectFrom(TRANSFER_SCHEDULES).where(TRANSFER_SCHEDULES.DATABASE_ID.eq(databaseId)).fetch(DumpSchedules::toSchedule);
    }

    public Optional<Schedule> find(UUID id) {
        return dsl.selectFrom(TRANSFER_SCHEDULES).where(TRANSFER_SCHEDULES.ID.eq(id)).fetchOptional(DumpSchedules::toSchedule);
    }

    public void delete(UUID id) {
        dsl.deleteFrom(TRANSFER_SCHEDULES).where(TRANSFER_SCHEDULES.ID.eq(id)).execute();
    }

    void deleteAll(UUID databaseId) {
        dsl.deleteFrom(TRANSFER_SCHEDULES).where(TRANSFER_SCHEDULES.DATABASE_ID.eq(databaseId)).execute();
    }

    List<Schedule> all() {
        return dsl.selectFrom(TRANSFER_SCHEDULES).fetch(DumpSchedules::toSchedule);
    }

    private static Schedule toSchedule(Record r) {
        return new Schedule(r.get(TRANSFER_SCHEDULES.ID), r.get(TRANSFER_SCHEDULES.DATABASE_ID), r.get(TRANSFER_SCHEDULES.NAME),
                r.get(TRANSFER_SCHEDULES.HOUR), r.get(TRANSFER_SCHEDULES.TIMEZONE), r.get(TRANSFER_SCHEDULES.CREATED_AT).toInstant());
    }
}
