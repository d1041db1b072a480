package dev.keel.lifecycle;

import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.UPGRADES;

/** Upgrade rows; state changes are checked against {@link UpgradeState} under a row lock. */
@Singleton
final class UpgradeRepository {
    private static final int MESSAGE_LIMIT = 2000;

    private final DSLContext dsl;

    UpgradeRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** A new upgrade in {@code tx}; the unique index refuses a second open one of the database. */
    Upgrade insert(DSLContext tx, UUID database, int from, int to, UpgradeState state, boolean dryRun, @Nullable UUID operation) {
        return tx.insertInto(UPGRADES)
                .set(UPGRADES.ID, UUID.randomUUID())
                .set(UPGRADES.DATABASE_ID, database)
                .set(UPGRADES.FROM_MAJOR, from)
                .set(UPGRADES.TO_MAJOR, to)
                .set(UPGRADES.STATE, state.value())
                .set(UPGRADES.DRY_RUN, dryRun)
                .set(UPGRADES.OPERATION_ID, operation)
                .returning().fetchSingle(UpgradeRepository::toUpgrade);
    }

    Optional<Upgrade> forOperation(UUID operation) {
        return dsl.selectFrom(UPGRADES).where(UPGRADES.OPERATION_ID.eq(operation)).fetchOptional(UpgradeRepository::toUpgrade);
    }

    Upgrade forOperation(DSLContext tx, UUID operation) {
        return tx.selectFrom(UPGRADES).where(UPGRADES.OPERATION_ID.eq(operation)).fetchSingle(UpgradeRepository::toUpgrade);
    }

    /** The database's newest upgrade, if any. */
    Optional<Upgrade> newest(UUID database) {
        return dsl.selectFrom(UPGRADES).where(UPGRADES.DATABASE_ID.eq(database)).orderBy(UPGRADES.CREATED_AT.desc()).limit(1)
                .fetchOptional(UpgradeRepository::toUpgrade);
    }

    /** Moves a prepared upgrade to running with its operation, in {@code tx}; false when it is not prepared any more. */
    boolean start(DSLContext tx, UUID id, UUID operation, int to) {
        return tx.update(UPGRADES).set(UPGRADES.STATE, UpgradeState.RUNNING.value()).set(UPGRADES.OPERATION_ID, operation)
                .set(UPGRADES.TO_MAJOR, to)
                .where(UPGRADES.ID.eq(id)).and(UPGRADES.STATE.eq(UpgradeState.PREPARED.value())).execute() == 1;
    }

    void copy(UUID id, UUID copy) {
        dsl.update(UPGRADES).set(UPGRADES.COPY_ID, copy).where(UPGRADES.ID.eq(id)).execute();
    }

    void writePause(UUID id, long millis) {
        dsl.update(UPGRADES).set(UPGRADES.WRITE_PAUSE_MS, millis).where(UPGRADES.ID.eq(id)).execute();
    }

    boolean finish(UUID id, UpgradeState target, @Nullable String message) {
        return dsl.transactionResult(tx -> {
            Optional<String> current = tx.dsl().select(UPGRADES.STATE).from(UPGRADES).where(UPGRADES.ID.eq(id)).forUpdate()
                    .fetchOptional(UPGRADES.STATE);
            if (current.isEmpty() || !UpgradeState.of(current.get()).canBecome(target)) {
                return false;
            }
            tx.dsl().update(UPGRADES).set(UPGRADES.STATE, target.value())
                    .set(UPGRADES.MESSAGE, message == null || message.length() <= MESSAGE_LIMIT ? message : message.substring(0, MESSAGE_LIMIT))
                    .set(UPGRADES.FINISHED_AT, DSL.currentOffsetDateTime()).where(UPGRADES.ID.eq(id)).execute();
            return true;
        });
    }

    private static Upgrade toUpgrade(Record r) {
        return new Upgrade(r.get(UPGRADES.ID), r.get(UPGRADES.DATABASE_ID), r.get(UPGRADES.OPERATION_ID), r.get(UPGRADES.FROM_MAJOR),
                r.get(UPGRADES.TO_MAJOR), UpgradeState.of(r.get(UPGRADES.STATE)), r.get(UPGRADES.DRY_RUN), r.get(UPGRADES.COPY_ID),
                r.get(UPGRADES.WRITE_PAUSE_MS), r.get(UPGRADES.MESSAGE), r.get(UPGRADES.CREATED_AT).toInstant(),
                r.get(UPGRADES.FINISHED_AT) == null ? null : r.get(UPGRADES.FINISHED_AT).toInstant());
    }
}
