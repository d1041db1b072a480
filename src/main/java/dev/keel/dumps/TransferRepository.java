package dev.keel.dumps;

import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TRANSFERS;
import static dev.keel.catalog.schema.Tables.TRANSFER_LOGS;

/** Transfer rows and their log lines; state changes are checked against {@link TransferState} under a row lock. */
@Singleton
final class TransferRepository {
    private static final int TEXT_LIMIT = 2000;

    private final DSLContext dsl;

    TransferRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** A running transfer, in {@code tx}; the unique index refuses a second running one of its kind for the database. */
    Transfer insert(DSLContext tx, UUID teamId, TransferKind kind, UUID databaseId, UUID operationId, @Nullable String scheduleName,
                    @Nullable UUID sourceBackupId, @Nullable String sourceUrl, @Nullable String sourceName) {
        return tx.insertInto(TRANSFERS)
                .set(TRANSFERS.ID, UUID.randomUUID())
                .set(TRANSFERS.TEAM_ID, teamId)
                .set(TRANSFERS.KIND, kind.value())
                .set(TRANSFERS.DATABASE_ID, databaseId)
                .set(TRANSFERS.OPERATION_ID, operationId)
                .set(TRANSFERS.STATE, TransferState.RUNNING.value())
                .set(TRANSFERS.SCHEDULE_NAME, scheduleName)
                .set(TRANSFERS.SOURCE_BACKUP_ID, sourceBackupId)
                .set(TRANSFERS.SOURCE_URL, sourceUrl)
                .set(TRANSFERS.SOURCE_NAME, sourceName)
                .returning()
                .fetchSingle(TransferRepository::toTransfer);
    }

    Optional<Transfer> find(UUID id) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.ID.eq(id)).fetchOptional(TransferRepository::toTransfer);
    }

    /** Which of {@code ids} the catalog says were canceled. */
    Set<UUID> canceled(Collection<UUID> ids) {
        return dsl.select(TRANSFERS.ID).from(TRANSFERS).where(TRANSFERS.ID.in(ids)).and(TRANSFERS.STATE.eq(TransferState.CANCELED.value()))
                .fetchSet(TRANSFERS.ID);
    }

    Optional<Transfer> findByNum(long num) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.NUM.eq(num)).fetchOptional(TransferRepository::toTransfer);
    }

    Optional<Transfer> forOperation(UUID operation) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.OPERATION_ID.eq(operation)).fetchOptional(TransferRepository::toTransfer);
    }

    /** The database's transfers still recorded as running whose operation no longer runs (ended by another node). */
    List<Transfer> orphaned(UUID database) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.DATABASE_ID.eq(database)).and(TRANSFERS.STATE.eq(TransferState.RUNNING.value()))
                .andNotExists(DSL.selectOne().from(OPERATIONS).where(OPERATIONS.ID.eq(TRANSFERS.OPERATION_ID)).and(OPERATIONS.STATE.eq("running")))
                .fetch(TransferRepository::toTransfer);
    }

    /** The transfers of these databases (backups of them, restores into them), newest first. */
    List<Transfer> ofDatabases(Collection<UUID> databases) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.DATABASE_ID.in(databases)).orderBy(TRANSFERS.NUM.desc())
                .fetch(TransferRepository::toTransfer);
    }

    /** A database's backups, newest first. */
    List<Transfer> backups(UUID database) {
        return dsl.selectFrom(TRANSFERS).where(TRANSFERS.DATABASE_ID.eq(database)).and(TRANSFERS.KIND.eq(TransferKind.BACKUP.value()))
                .orderBy(TRANSFERS.NUM.desc()).fetch(TransferRepository::toTransfer);
    }

    void progress(UUID id, long processed, @Nullable Long sourceBytes) {
        dsl.update(TRANSFERS).set(TRANSFERS.PROCESSED_BYTES, processed)
                .set(TRANSFERS.SOURCE_BYTES, sourceBytes == null ? TRANSFERS.SOURCE_BYTES : DSL.val(sourceBytes))
                .where(TRANSFERS.ID.eq(id)).execute();
    }

    /** Ends a running transfer; false when it had ended already (canceled meanwhile, say). */
    boolean finish(UUID id, TransferState target, @Nullable String sha256, @Nullable String error, int warnings) {
        return dsl.transactionResult(tx -> {
            Optional<String> current = tx.dsl().select(TRANSFERS.STATE).from(TRANSFERS).where(TRANSFERS.ID.eq(id)).forUpdate()
                    .fetchOptional(TRANSFERS.STATE);
            if (current.isEmpty() || !TransferState.of(current.get()).canBecome(target)) {
                return false;
            }
            tx.dsl().update(TRANSFERS)
                    .set(TRANSFERS.STATE, target.value())
                    .set(TRANSFERS.SHA256, sha256)
                    .set(TRANSFERS.ERROR, limit(error))
                    .set(TRANSFERS.WARNINGS, warnings)
                    .set(TRANSFERS.FINISHED_AT, DSL.currentOffsetDateTime())
                    .where(TRANSFERS.ID.eq(id))
                    .execute();
            return true;
        });
    }

    void delete(UUID id) {
        dsl.deleteFrom(TRANSFERS).where(TRANSFERS.ID.eq(id)).execute();
    }

    void deleteAll(UUID database) {
        dsl.deleteFrom(TRANSFERS).where(TRANSFERS.DATABASE_ID.eq(database)).execute();
    }

    void log(UUID id, String message) {
        dsl.insertInto(TRANSFER_LOGS).set(TRANSFER_LOGS.TRANSFER_ID, id).set(TRANSFER_LOGS.MESSAGE, limit(message)).execute();
    }

    /** A transfer's log lines, oldest first. */
    List<Log> logs(UUID id) {
        return dsl.select(TRANSFER_LOGS.CREATED_AT, TRANSFER_LOGS.MESSAGE).from(TRANSFER_LOGS).where(TRANSFER_LOGS.TRANSFER_ID.eq(id))
                .orderBy(TRANSFER_LOGS.ID).fetch(r -> new Log(r.value1().toInstant(), r.value2()));
    }

    record Log(Instant at, String message) {
    }

    @Nullable
    private static String limit(@Nullable String text) {
        return text == null || text.length() <= TEXT_LIMIT ? text : text.substring(0, TEXT_LIMIT);
    }

    private static Transfer toTransfer(Record r) {
        return new Transfer(r.get(TRANSFERS.ID), r.get(TRANSFERS.NUM), r.get(TRANSFERS.TEAM_ID), TransferKind.of(r.get(TRANSFERS.KIND)),
                r.get(TRANSFERS.DATABASE_ID), r.get(TRANSFERS.OPERATION_ID), TransferState.of(r.get(TRANSFERS.STATE)),
                r.get(TRANSFERS.SCHEDULE_NAME), r.get(TRANSFERS.SOURCE_BACKUP_ID), r.get(TRANSFERS.SOURCE_URL), r.get(TRANSFERS.SOURCE_NAME),
                r.get(TRANSFERS.SOURCE_BYTES), r.get(TRANSFERS.PROCESSED_BYTES), r.get(TRANSFERS.SHA256), r.get(TRANSFERS.WARNINGS),
                r.get(TRANSFERS.ERROR), r.get(TRANSFERS.CREATED_AT).toInstant(),
                r.get(TRANSFERS.FINISHED_AT) == null ? null : r.get(TRANSFERS.FINISHED_AT).toInstant());
    }
}
