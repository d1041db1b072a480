package dev.keel.metrics;

import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.ARCHIVE_STATUS;
import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;

/**
 * What the collector reads from the catalog, each a single query over all databases (never one
 * per database): the databases with their team's name, their backups' times, failovers, archive
 * states, and the running operations.
 */
@Singleton
final class MetricsRepository {
    private final DSLContext dsl;

    MetricsRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    record Row(UUID id, String name, String team, String plan, String state, @Nullable UUID leaderId, String pgDatabase) {
    }

    record BackupTimes(Instant newest, Instant oldest) {
    }

    List<Row> databases() {
        return dsl.select(DATABASES.ID, DATABASES.NAME, TEAMS.NAME, DATABASES.PLAN, DATABASES.STATE, DATABASES.LEADER_ID,
                        DATABASES.PG_DATABASE)
                .from(DATABASES).join(TEAMS).on(TEAMS.ID.eq(DATABASES.TEAM_ID))
                .fetch(r -> new Row(r.value1(), r.value2(), r.value3(), r.value4(), r.value5(), r.value6(), r.value7()));
    }

    /** The newest and the oldest completed backup's finish, per database. */
    Map<UUID, BackupTimes> completedBackups() {
        Map<UUID, BackupTimes> times = new HashMap<>();
        dsl.select(BACKUPS.DATABASE_ID, DSL.max(BACKUPS.FINISHED_AT), DSL.min(BACKUPS.FINISHED_AT)).from(BACKUPS)
                .where(BACKUPS.STATE.eq("completed")).groupBy(BACKUPS.DATABASE_ID)
                .forEach(r -> times.put(r.value1(), new BackupTimes(r.value2().toInstant(), r.value3().toInstant())));
        return times;
    }

    /** Failovers (and switchovers) that completed, per database. */
    Map<UUID, Integer> failovers() {
        Map<UUID, Integer> counts = new HashMap<>();
        dsl.select(OPERATIONS.DATABASE_ID, DSL.count()).from(OPERATIONS)
                .where(OPERATIONS.KIND.eq("failover")).and(OPERATIONS.STATE.eq("succeeded")).and(OPERATIONS.DATABASE_ID.isNotNull())
                .groupBy(OPERATIONS.DATABASE_ID)
                .forEach(r -> counts.put(r.value1(), r.value2()));
        return counts;
    }

    /** Each database's archive state ({@code ok}, {@code failing}, {@code conflict}). */
    Map<UUID, String> archiveStates() {
        Map<UUID, String> states = new HashMap<>();
        dsl.select(ARCHIVE_STATUS.DATABASE_ID, ARCHIVE_STATUS.STATE).from(ARCHIVE_STATUS)
                .forEach(r -> states.put(r.value1(), r.value2()));
        return states;
    }

    /** Operations running now, by kind, with the oldest one's start. */
    record Running(String kind, int count, OffsetDateTime oldest) {
    }

    List<Running> running() {
        return dsl.select(OPERATIONS.KIND, DSL.count(), DSL.min(OPERATIONS.CREATED_AT)).from(OPERATIONS)
                .where(OPERATIONS.STATE.eq("running")).groupBy(OPERATIONS.KIND)
                .fetch(r -> new Running(r.value1(), r.value2(), r.value3()));
    }

    /** A team's name (labels carry it). */
    @Nullable
    String teamName(UUID team) {
        return dsl.select(TEAMS.NAME).from(TEAMS).where(TEAMS.ID.eq(team)).fetchOne(TEAMS.NAME);
    }
}
