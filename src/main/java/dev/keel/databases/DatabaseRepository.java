package dev.keel.databases;

import dev.keel.Ids;
import jakarta.inject.Singleton;
import io.micronaut.core.annotation.Nullable;
import org.jooq.Condition;
import dev.keel.problems.Failure;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static dev.keel.catalog.schema.Tables.DATABASE_ORIGINS;

/** Database rows; state changes are checked against {@link DatabaseState} under a row lock. */
@Singleton
public final class DatabaseRepository {
    private static final int REASON_LIMIT = 2000;

    private final DSLContext dsl;

    DatabaseRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    public void insert(DSLContext tx, UUID id, UUID teamId, String name, String plan, int major, String pgDatabase, @Nullable UUID leaderId) {
        tx.insertInto(DATABASES)
                .set(DATABASES.LEADER_ID, leaderId)
                .set(DATABASES.ID, id)
                .set(DATABASES.TEAM_ID, teamId)
                .set(DATABASES.NAME, name)
                .set(DATABASES.PLAN, plan)
                .set(DATABASES.MAJOR_VERSION, major)
                .set(DATABASES.PG_DATABASE, pgDatabase)
                .set(DATABASES.STATE, DatabaseState.CREATING.value())
                .execute();
    }

    /** The Postgres database a database is, when a warm instance brought its own. */
    public void updatePgDatabase(UUID id, String pgDatabase) {
        dsl.update(DATABASES).set(DATABASES.PG_DATABASE, pgDatabase).where(DATABASES.ID.eq(id)).execute();
    }

    /** Locks the team's row for the caller's transaction and counts the team's databases (deleting ones too: they still hold servers). */
    public int lockAndCountForTeam(DSLContext tx, UUID teamId) {
        lockTeam(tx, teamId);
        return tx.fetchCount(DATABASES, DATABASES.TEAM_ID.eq(teamId));
    }

    /** Locks the team's row until {@code tx} ends: its requests that must not cross are taken one at a time. */
    public void lockTeam(DSLContext tx, UUID teamId) {
        tx.select(TEAMS.ID).from(TEAMS).where(TEAMS.ID.eq(teamId)).forUpdate().fetch();
    }

    public void insertOrigin(DSLContext tx, UUID id, DatabaseOrigin origin) {
        tx.insertInto(DATABASE_ORIGINS)
                .set(DATABASE_ORIGINS.DATABASE_ID, id)
                .set(DATABASE_ORIGINS.KIND, origin.kind().value())
                .set(DATABASE_ORIGINS.SOURCE_ID, origin.sourceId())
                .set(DATABASE_ORIGINS.SOURCE_NAME, origin.sourceName())
                .set(DATABASE_ORIGINS.BACKUP_ID, origin.backupId())
                .set(DATABASE_ORIGINS.BACKUP_FINISHED_AT, origin.backupFinishedAt().atOffset(ZoneOffset.UTC))
                .set(DATABASE_ORIGINS.TARGET_TIME, origin.targetTime() == null ? null : origin.targetTime().atOffset(ZoneOffset.UTC))
                .set(DATABASE_ORIGINS.THROUGH_SEGMENT, origin.throughSegment())
                .set(DATABASE_ORIGINS.FAST, origin.fast())
                .execute();
    }

    public Optional<DatabaseOrigin> origin(UUID id) {
        return dsl.selectFrom(DATABASE_ORIGINS).where(DATABASE_ORIGINS.DATABASE_ID.eq(id)).fetchOptional(r -> new DatabaseOrigin(
                DatabaseOrigin.Kind.of(r.getKind()), r.getSourceId(), r.getSourceName(), r.getBackupId(),
                r.getBackupFinishedAt().toInstant(), r.getTargetTime() == null ? null : r.getTargetTime().toInstant(),
                r.getThroughSegment(), r.getFast()));
    }

    public boolean nameTaken(String name) {
        return dsl.fetchExists(DATABASES, DATABASES.NAME.eq(name));
    }

    /** The team's database with id or name {@code idOrName}. */
    public Optional<Database> find(UUID teamId, String idOrName) {
        Condition match = Ids.parse(idOrName).map(DATABASES.ID::eq).orElseGet(() -> DATABASES.NAME.eq(idOrName));
        return dsl.selectFrom(DATABASES).where(DATABASES.TEAM_ID.eq(teamId)).and(match).fetchOptional(DatabaseRepository::toDatabase);
    }

    public Optional<Database> find(UUID id) {
        return dsl.selectFrom(DATABASES).where(DATABASES.ID.eq(id)).fetchOptional(DatabaseRepository::toDatabase);
    }

    Set<UUID> onPlans(Set<String> plans) {
        return dsl.select(DATABASES.ID).from(DATABASES).where(DATABASES.PLAN.in(plans)).fetchSet(DATABASES.ID);
    }

    List<Database> inState(DatabaseState state) {
        return dsl.selectFrom(DATABASES).where(DATABASES.STATE.eq(state.value())).orderBy(DATABASES.CREATED_AT)
                .fetch(DatabaseRepository::toDatabase);
    }

    public List<Database> list(UUID teamId) {
        return dsl.selectFrom(DATABASES).where(DATABASES.TEAM_ID.eq(teamId)).orderBy(DATABASES.CREATED_AT)
                .fetch(DatabaseRepository::toDatabase);
    }

    /**
     * Moves the database to {@code target} inside {@code tx}, holding its row lock; returns it
     * as it was before, or empty when it is gone or may not make that move.
     */
    public Optional<Database> transition(DSLContext tx, UUID id, DatabaseState target, String reason) {
        Optional<Database> current = tx.selectFrom(DATABASES).where(DATABASES.ID.eq(id)).forUpdate()
                .fetchOptional(DatabaseRepository::toDatabase);
        if (current.isEmpty() || !current.get().state().canBecome(target)) {
            return Optional.empty();
        }
        tx.update(DATABASES)
                .set(DATABASES.STATE, target.value())
                .set(DATABASES.STATE_REASON, reason == null || reason.length() <= REASON_LIMIT ? reason : reason.substring(0, REASON_LIMIT))
                .setNull(DATABASES.STATE_CODE)
                .setNull(DATABASES.STATE_RETRYABLE)
                .set(DATABASES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(DATABASES.ID.eq(id))
                .execute();
        return current;
    }

    public Optional<Database> transition(UUID id, DatabaseState target, String reason) {
        return dsl.transactionResult(tx -> transition(tx.dsl(), id, target, reason));
    }

    /** Moves the database to {@code failed} with {@code failure}'s sentence, code and retry flag; as {@link #transition}. */
    public Optional<Database> fail(UUID id, Failure failure) {
        return dsl.transactionResult(tx -> {
            Optional<Database> before = transition(tx.dsl(), id, DatabaseState.FAILED, failure.reason());
            if (before.isPresent()) {
                tx.dsl().update(DATABASES).set(DATABASES.STATE_CODE, failure.code()).set(DATABASES.STATE_RETRYABLE, failure.retryable())
                        .where(DATABASES.ID.eq(id)).execute();
            }
            return before;
        });
    }

    /** The databases following {@code leaderId}, oldest first, whatever their state. */
    public List<Database> followers(UUID leaderId) {
        return dsl.selectFrom(DATABASES).where(DATABASES.LEADER_ID.eq(leaderId)).orderBy(DATABASES.CREATED_AT)
                .fetch(DatabaseRepository::toDatabase);
    }

    /** Ends following: the database no longer has a leader. */
    public void updatePlan(DSLContext tx, UUID id, String plan) {
        tx.update(DATABASES).set(DATABASES.PLAN, plan).set(DATABASES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(DATABASES.ID.eq(id)).execute();
    }

    void rename(UUID id, String name) {
        dsl.update(DATABASES).set(DATABASES.NAME, name).set(DATABASES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(DATABASES.ID.eq(id)).execute();
    }

    public void clearLeader(UUID id) {
        dsl.update(DATABASES).setNull(DATABASES.LEADER_ID).set(DATABASES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(DATABASES.ID.eq(id)).execute();
    }

    void setMajor(UUID id, int major) {
        dsl.update(DATABASES).set(DATABASES.MAJOR_VERSION, major).set(DATABASES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(DATABASES.ID.eq(id)).execute();
    }

    public void delete(UUID id) {
        dsl.deleteFrom(DATABASES).where(DATABASES.ID.eq(id)).execute();
    }

    private static Database toDatabase(Record r) {
        return new Database(r.get(DATABASES.ID), r.get(DATABASES.TEAM_ID), r.get(DATABASES.NAME), r.get(DATABASES.PLAN),
                r.get(DATABASES.MAJOR_VERSION), r.get(DATABASES.PG_DATABASE), DatabaseState.of(r.get(DATABASES.STATE)),
                r.get(DATABASES.STATE_REASON), r.get(DATABASES.STATE_CODE), r.get(DATABASES.STATE_RETRYABLE), r.get(DATABASES.LEADER_ID), r.get(DATABASES.CREATED_AT), r.get(DATABASES.UPDATED_AT));
    }
}
