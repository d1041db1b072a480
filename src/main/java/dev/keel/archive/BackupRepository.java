package dev.keel.archive;

import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.OPERATIONS;

/** Backup rows; state changes are checked against {@link BackupState} under a row lock. */
@Singleton
public final class BackupRepository {
    private static final int ERROR_LIMIT = 2000;

    private final DSLContext dsl;

    BackupRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** Records a running backup in {@code tx}; the unique index refuses a second running one for the database. */
    Backup insert(DSLContext tx, UUID database, UUID operation, BackupKind kind) {
        return tx.insertInto(BACKUPS)
                .set(BACKUPS.ID, UUID.randomUUID())
                .set(BACKUPS.DATABASE_ID, database)
                .set(BACKUPS.OPERATION_ID, operation)
                .set(BACKUPS.KIND, kind.value())
                .set(BACKUPS.STATE, BackupState.RUNNING.value())
                .returning()
                .fetchSingle(BackupRepository::toBackup);
    }

    void started(UUID backup, Lsn startLsn, TimelineId timeline) {
        dsl.update(BACKUPS).set(BACKUPS.START_LSN, startLsn.value()).set(BACKUPS.TIMELINE, timeline.value())
                .where(BACKUPS.ID.eq(backup)).execute();
    }

    void completed(UUID backup, Lsn stopLsn, long size, long stored) {
        finish(backup, BackupState.COMPLETED, null, stopLsn, size, stored);
    }

    void failed(UUID backup, String error) {
        finish(backup, BackupState.FAILED, error.length() > ERROR_LIMIT ? error.substring(0, ERROR_LIMIT) : error, null, null, null);
    }

    private void finish(UUID backup, BackupState target, String error, Lsn stopLsn, Long size, Long stored) {
        dsl.transaction(tx -> {
            String current = tx.dsl().select(BACKUPS.STATE).from(BACKUPS).where(BACKUPS.ID.eq(backup)).forUpdate().fetchSingle(BACKUPS.STATE);
            if (!BackupState.of(current).canBecome(target)) {
                throw new IllegalStateException("backup " + backup + " cannot go from " + current + " to " + target.value());
            }
            tx.dsl().update(BACKUPS)
                    .set(BACKUPS.STATE, target.value())
                    .set(BACKUPS.FINISHED_AT, DSL.currentOffsetDateTime())
                    .set(BACKUPS.ERROR, error)
                    .set(BACKUPS.STOP_LSN, stopLsn == null ? null : stopLsn.value())
                    .set(BACKUPS.SIZE_BYTES, size)
                    .set(BACKUPS.STORED_BYTES, stored)
                    .where(BACKUPS.ID.eq(backup))
                    .execute();
        });
    }

    public Optional<Backup> find(UUID database, UUID backup) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.DATABASE_ID.eq(database)).and(BACKUPS.ID.eq(backup))
                .fetchOptional(BackupRepository::toBackup);
    }

    /** A backup's number (Heroku's b001), unique in the installation. */
    public long number(UUID backup) {
        return dsl.select(BACKUPS.NUM).from(BACKUPS).where(BACKUPS.ID.eq(backup)).fetchSingle(BACKUPS.NUM);
    }

    public Optional<Backup> findByNumber(long number) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.NUM.eq(number)).fetchOptional(BackupRepository::toBackup);
    }

    Optional<Backup> forOperation(UUID operation) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.OPERATION_ID.eq(operation)).fetchOptional(BackupRepository::toBackup);
    }

    /** The database's backups still recorded as running whose operation no longer runs (ended by another node). */
    List<Backup> orphaned(UUID database) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.DATABASE_ID.eq(database)).and(BACKUPS.STATE.eq(BackupState.RUNNING.value()))
                .andNotExists(DSL.selectOne().from(OPERATIONS).where(OPERATIONS.ID.eq(BACKUPS.OPERATION_ID)).and(OPERATIONS.STATE.eq("running")))
                .fetch(BackupRepository::toBackup);
    }

    /** The database's backups, newest first. */
    public List<Backup> list(UUID database) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.DATABASE_ID.eq(database)).orderBy(BACKUPS.STARTED_AT.desc())
                .fetch(BackupRepository::toBackup);
    }

    /** The database's completed backups, newest first. */
    public List<Backup> completed(UUID database) {
        return dsl.selectFrom(BACKUPS).where(BACKUPS.DATABASE_ID.eq(database)).and(BACKUPS.STATE.eq(BackupState.COMPLETED.value()))
                .orderBy(BACKUPS.FINISHED_AT.desc()).fetch(BackupRepository::toBackup);
    }

    void delete(UUID backup) {
        dsl.deleteFrom(BACKUPS).where(BACKUPS.ID.eq(backup)).execute();
    }

    private static Backup toBackup(Record r) {
        Long start = r.get(BACKUPS.START_LSN);
        Long stop = r.get(BACKUPS.STOP_LSN);
        Integer timeline = r.get(BACKUPS.TIMELINE);
        return new Backup(r.get(BACKUPS.ID), r.get(BACKUPS.DATABASE_ID), r.get(BACKUPS.OPERATION_ID), BackupKind.of(r.get(BACKUPS.KIND)),
                BackupState.of(r.get(BACKUPS.STATE)), r.get(BACKUPS.STARTED_AT).toInstant(),
                r.get(BACKUPS.FINISHED_AT) == null ? null : r.get(BACKUPS.FINISHED_AT).toInstant(),
                start == null ? null : new Lsn(start), stop == null ? null : new Lsn(stop),
                timeline == null ? null : new TimelineId(timeline), r.get(BACKUPS.SIZE_BYTES), r.get(BACKUPS.STORED_BYTES),
                r.get(BACKUPS.ERROR));
    }
}
