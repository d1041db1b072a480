package dev.keel.archive;

import dev.keel.catalog.schema.tables.records.WalReceiversRecord;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import dev.keel.instances.Instance;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Query;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.ARCHIVED_WAL;
import static dev.keel.catalog.schema.Tables.ARCHIVE_STATUS;
import static dev.keel.catalog.schema.Tables.STREAMED_WAL;
import static dev.keel.catalog.schema.Tables.WAL_RECEIVERS;
import static dev.keel.catalog.schema.Tables.WAL_RECEIVER_UNREACHABLE;
import static dev.keel.catalog.schema.Tables.WAL_SYSTEMS;

/** Rows of the WAL archive and of each database's archive status. */
@Singleton
public final class ArchiveRepository {
    private static final int MESSAGE_LIMIT = 2000;

    private final DSLContext dsl;

    ArchiveRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** Records an archived file; returns the sha256 already recorded under its name when that differs. */
    Optional<String> record(UUID database, WalFileName file, long size, long stored, String sha256, Instant completedAt) {
        dsl.insertInto(ARCHIVED_WAL)
                .set(ARCHIVED_WAL.DATABASE_ID, database)
                .set(ARCHIVED_WAL.NAME, file.name())
                .set(ARCHIVED_WAL.KIND, file.kind().name().toLowerCase(Locale.ROOT))
                .set(ARCHIVED_WAL.TIMELINE, file.timeline().value())
                .set(ARCHIVED_WAL.SEGMENT_NUMBER, file.segment().map(s -> s.number()).orElse(null))
                .set(ARCHIVED_WAL.SIZE_BYTES, size)
                .set(ARCHIVED_WAL.STORED_BYTES, stored)
                .set(ARCHIVED_WAL.SHA256, sha256)
                .set(ARCHIVED_WAL.COMPLETED_AT, completedAt.atOffset(ZoneOffset.UTC))
                .onConflictDoNothing()
                .execute();
        String recorded = dsl.select(ARCHIVED_WAL.SHA256).from(ARCHIVED_WAL)
                .where(ARCHIVED_WAL.DATABASE_ID.eq(database)).and(ARCHIVED_WAL.NAME.eq(file.name()))
                .fetchSingle(ARCHIVED_WAL.SHA256);
        return recorded.equals(sha256) ? Optional.empty() : Optional.of(recorded);
    }

    /** Every archived file of the database, by name. */
    public List<ArchivedWal> files(UUID database) {
        return dsl.selectFrom(ARCHIVED_WAL).where(ARCHIVED_WAL.DATABASE_ID.eq(database)).orderBy(ARCHIVED_WAL.NAME)
                .fetch(ArchiveRepository::toArchivedWal);
    }

    public Optional<ArchivedWal> file(UUID database, String name) {
        return dsl.selectFrom(ARCHIVED_WAL).where(ARCHIVED_WAL.DATABASE_ID.eq(database)).and(ARCHIVED_WAL.NAME.eq(name))
                .fetchOptional(ArchiveRepository::toArchivedWal);
    }

    void forget(UUID database, List<String> names) {
        dsl.deleteFrom(ARCHIVED_WAL).where(ARCHIVED_WAL.DATABASE_ID.eq(database)).and(ARCHIVED_WAL.NAME.in(names)).execute();
    }

    /** The database's archive status; a database that never archived is ok. */
    public Status status(UUID database) {
        return dsl.selectFrom(ARCHIVE_STATUS).where(ARCHIVE_STATUS.DATABASE_ID.eq(database))
                .fetchOptional(r -> new Status(ArchiveState.of(r.getState()), r.getMessage(), r.getSince().toInstant(),
                        r.getCheckedAt() == null ? null : r.getCheckedAt().toInstant(), r.getMissing()))
                .orElse(new Status(ArchiveState.OK, null, null, null, null));
    }

    /** How archiving goes for one database, and what the last continuity check found. */
    public record Status(ArchiveState state, @Nullable String message, @Nullable Instant since, @Nullable Instant checkedAt,
                         @Nullable String missing) {
    }

    /**
     * Moves the database's archive to {@code state} with {@code message}, when that is a change
     * the state machine allows; writes nothing when it is already there with the same message.
     */
    void moveTo(UUID database, ArchiveState state, @Nullable String message) {
        moveTo(database, state, message, null);
    }

    private void moveTo(UUID database, ArchiveState state, @Nullable String message, @Nullable Cause cause) {
        String code = cause == null ? null : cause.code;
        String text = message == null || message.length() <= MESSAGE_LIMIT ? message : message.substring(0, MESSAGE_LIMIT);
        dsl.transaction(tx -> {
            DSLContext sql = tx.dsl();
            sql.insertInto(ARCHIVE_STATUS).set(ARCHIVE_STATUS.DATABASE_ID, database).set(ARCHIVE_STATUS.STATE, ArchiveState.OK.value())
                    .onConflictDoNothing().execute();
            Record current = sql.selectFrom(ARCHIVE_STATUS).where(ARCHIVE_STATUS.DATABASE_ID.eq(database)).forUpdate().fetchSingle();
            ArchiveState from = ArchiveState.of(current.get(ARCHIVE_STATUS.STATE));
            boolean same = from == state && Objects.equals(current.get(ARCHIVE_STATUS.MESSAGE), text)
                    && Objects.equals(current.get(ARCHIVE_STATUS.CAUSE), code);
            if (same || (from != state && !from.canBecome(state))) {
                return;
            }
            sql.update(ARCHIVE_STATUS)
                    .set(ARCHIVE_STATUS.STATE, state.value())
                    .set(ARCHIVE_STATUS.MESSAGE, text)
                    .set(ARCHIVE_STATUS.CAUSE, code)
                    .set(ARCHIVE_STATUS.SINCE, from == state ? DSL.val(current.get(ARCHIVE_STATUS.SINCE)) : DSL.currentOffsetDateTime())
                    .where(ARCHIVE_STATUS.DATABASE_ID.eq(database))
                    .execute();
        });
    }

    /** Which part of Keel found the archive failing; each clears only its own failure ({@link #recover}). */
    enum Cause {
        /** A WAL receiver could not store what it streamed. */
        WAL_STREAM("wal-stream"),
        /** An upload from an instance's spool (what archive_command handed off) failed. */
        SPOOL_UPLOAD("spool-upload");

        private final String code;

        Cause(String code) {
            this.code = code;
        }
    }

    /** Moves the database's archive to failing with {@code message}, found by {@code cause} (a conflict stays a conflict). */
    void fail(UUID database, Cause cause, String message) {
        moveTo(database, ArchiveState.FAILING, message, cause);
    }

    /**
     * Moves the database's archive back to ok if it is failing for {@code cause} (or for a cause an
     * older Keel did not record), in one statement: what another part found failing stays failing.
     */
    void recover(UUID database, Cause cause) {
        dsl.update(ARCHIVE_STATUS)
                .set(ARCHIVE_STATUS.STATE, ArchiveState.OK.value())
                .set(ARCHIVE_STATUS.MESSAGE, (String) null)
                .set(ARCHIVE_STATUS.CAUSE, (String) null)
                .set(ARCHIVE_STATUS.SINCE, DSL.currentOffsetDateTime())
                .where(ARCHIVE_STATUS.DATABASE_ID.eq(database))
                .and(ARCHIVE_STATUS.STATE.eq(ArchiveState.FAILING.value()))
                .and(ARCHIVE_STATUS.CAUSE.eq(cause.code).or(ARCHIVE_STATUS.CAUSE.isNull()))
                .execute();
    }

    void recordCheck(UUID database, @Nullable String missing) {
        dsl.insertInto(ARCHIVE_STATUS).set(ARCHIVE_STATUS.DATABASE_ID, database).set(ARCHIVE_STATUS.STATE, ArchiveState.OK.value())
                .onConflictDoNothing().execute();
        dsl.update(ARCHIVE_STATUS).set(ARCHIVE_STATUS.CHECKED_AT, DSL.currentOffsetDateTime()).set(ARCHIVE_STATUS.MISSING, missing)
                .where(ARCHIVE_STATUS.DATABASE_ID.eq(database)).execute();
    }

    /**
     * The system identifier of the cluster that wrote {@code timeline} of the database's archive:
     * the one recorded first, which is {@code seen} when none was.
     */
    long systemOf(UUID database, int timeline, long seen) {
        dsl.insertInto(WAL_SYSTEMS).set(WAL_SYSTEMS.DATABASE_ID, database).set(WAL_SYSTEMS.TIMELINE, timeline)
                .set(WAL_SYSTEMS.SYSTEM_IDENTIFIER, seen).onConflictDoNothing().execute();
        return dsl.select(WAL_SYSTEMS.SYSTEM_IDENTIFIER).from(WAL_SYSTEMS).where(WAL_SYSTEMS.DATABASE_ID.eq(database))
                .and(WAL_SYSTEMS.TIMELINE.eq(timeline)).fetchSingle(WAL_SYSTEMS.SYSTEM_IDENTIFIER);
    }

    /** The system identifier recorded for {@code timeline} of the database's archive, if any. */
    public Optional<Long> systemOf(UUID database, int timeline) {
        return dsl.select(WAL_SYSTEMS.SYSTEM_IDENTIFIER).from(WAL_SYSTEMS).where(WAL_SYSTEMS.DATABASE_ID.eq(database))
                .and(WAL_SYSTEMS.TIMELINE.eq(timeline)).fetchOptional(WAL_SYSTEMS.SYSTEM_IDENTIFIER);
    }

    /** Records the partial segment the receiver stored last. */
    void saveStreamed(StreamedWal partial) {
        dsl.insertInto(STREAMED_WAL)
                .set(STREAMED_WAL.DATABASE_ID, partial.database())
                .set(STREAMED_WAL.INSTANCE_ID, partial.instance())
                .set(STREAMED_WAL.SYSTEM_IDENTIFIER, partial.systemIdentifier())
                .set(STREAMED_WAL.NAME, partial.name())
                .set(STREAMED_WAL.TIMELINE, partial.segment().timeline().value())
                .set(STREAMED_WAL.SEGMENT_NUMBER, partial.segment().number())
                .set(STREAMED_WAL.END_LSN, partial.end().value())
                .set(STREAMED_WAL.SIZE_BYTES, partial.size())
                .set(STREAMED_WAL.STORED_BYTES, partial.storedBytes())
                .set(STREAMED_WAL.SHA256, partial.sha256())
                .set(STREAMED_WAL.STORED_AT, partial.storedAt().atOffset(ZoneOffset.UTC))
                .set(STREAMED_WAL.CAUGHT_UP_AT, partial.caughtUpAt() == null ? null : partial.caughtUpAt().atOffset(ZoneOffset.UTC))
                .set(STREAMED_WAL.CAUGHT_UP_END_LSN, partial.caughtUpAt() == null ? null : partial.end().value())
                .onConflict(STREAMED_WAL.DATABASE_ID).doUpdate()
                .set(STREAMED_WAL.INSTANCE_ID, partial.instance())
                .set(STREAMED_WAL.SYSTEM_IDENTIFIER, partial.systemIdentifier())
                .set(STREAMED_WAL.NAME, partial.name())
                .set(STREAMED_WAL.TIMELINE, partial.segment().timeline().value())
                .set(STREAMED_WAL.SEGMENT_NUMBER, partial.segment().number())
                .set(STREAMED_WAL.END_LSN, partial.end().value())
                .set(STREAMED_WAL.SIZE_BYTES, partial.size())
                .set(STREAMED_WAL.STORED_BYTES, partial.storedBytes())
                .set(STREAMED_WAL.SHA256, partial.sha256())
                .set(STREAMED_WAL.STORED_AT, partial.storedAt().atOffset(ZoneOffset.UTC))
                .set(STREAMED_WAL.CAUGHT_UP_AT, partial.caughtUpAt() == null ? null : partial.caughtUpAt().atOffset(ZoneOffset.UTC))
                .set(STREAMED_WAL.CAUGHT_UP_END_LSN, partial.caughtUpAt() == null ? null : partial.end().value())
                .execute();
    }

    /**
     * The partial segment the database's receiver stored last, if it stored one. Its caught-up
     * moment is null unless the row's witness says it was written with this very end: a node of
     * an earlier version rewrites the row without touching either column.
     */
    public Optional<StreamedWal> streamed(UUID database) {
        return dsl.selectFrom(STREAMED_WAL).where(STREAMED_WAL.DATABASE_ID.eq(database)).fetchOptional(r -> new StreamedWal(
                r.getDatabaseId(), r.getInstanceId(), r.getSystemIdentifier(),
                new WalSegmentName(new TimelineId(r.getTimeline()), r.getSegmentNumber()), new Lsn(r.getEndLsn()), r.getSizeBytes(),
                r.getStoredBytes(), r.getSha256(), r.getStoredAt().toInstant(),
                r.getCaughtUpAt() == null || !r.getEndLsn().equals(r.getCaughtUpEndLsn()) ? null : r.getCaughtUpAt().toInstant()));
    }

    /** A database's WAL receiver as node {@code node} last reported it (within {@link #RECEIVER_FRESH}). */
    record ReportedReceiver(UUID instance, String node, WalStream.Status status) {
    }

    /** A receiver's row not reported for longer than this counts as no receiver (its node stopped, or lost). */
    static final Duration RECEIVER_FRESH = Duration.ofSeconds(10);

    /**
     * Records how this node's receivers go, one row per database, in one batch. A stream that is not
     * connected does not take the row over from another node's fresh one: while a receiver moves
     * between nodes, the new one waits for the slot the old one still holds.
     */
    void reportReceivers(String node, Map<Instance, WalStream.Status> streams) {
        List<Query> upserts = new ArrayList<>();
        streams.forEach((instance, status) -> upserts.add(dsl.insertInto(WAL_RECEIVERS)
                .set(WAL_RECEIVERS.DATABASE_ID, instance.databaseId())
                .set(receiverRow(instance, node, status))
                .onConflict(WAL_RECEIVERS.DATABASE_ID).doUpdate()
                .set(receiverRow(instance, node, status))
                .where(WAL_RECEIVERS.NODE.eq(node).or(DSL.val(status.connected()))
                        .or(DSL.condition("{0} < now() - make_interval(secs => {1})", WAL_RECEIVERS.REPORTED_AT,
                                DSL.val(RECEIVER_FRESH.toSeconds()))))));
        if (!upserts.isEmpty()) {
            dsl.batch(upserts).execute();
        }
    }

    private static Map<Field<?>, Object> receiverRow(Instance instance, String node, WalStream.Status status) {
        Map<Field<?>, Object> row = new HashMap<>();
        row.put(WAL_RECEIVERS.INSTANCE_ID, instance.id());
        row.put(WAL_RECEIVERS.NODE, node);
        row.put(WAL_RECEIVERS.CONNECTED, status.connected());
        row.put(WAL_RECEIVERS.RECEIVED_LSN, status.received() == null ? null : status.received().value());
        row.put(WAL_RECEIVERS.STORED_LSN, status.stored() == null ? null : status.stored().value());
        row.put(WAL_RECEIVERS.STORED_AT, status.storedAt() == null ? null : status.storedAt().atOffset(ZoneOffset.UTC));
        row.put(WAL_RECEIVERS.UNSTORED_SINCE, status.unstoredSince() == null ? null : status.unstoredSince().atOffset(ZoneOffset.UTC));
        row.put(WAL_RECEIVERS.CATCH_UP_LSN, status.catchUpTo() == null ? null : status.catchUpTo().value());
        row.put(WAL_RECEIVERS.CAUGHT_UP_AT, status.caughtUpAt() == null ? null : status.caughtUpAt().atOffset(ZoneOffset.UTC));
        String problem = status.problem();
        row.put(WAL_RECEIVERS.PROBLEM, problem == null || problem.length() <= MESSAGE_LIMIT ? problem : problem.substring(0, MESSAGE_LIMIT));
        row.put(WAL_RECEIVERS.REPORTED_AT, DSL.currentOffsetDateTime());
        return row;
    }

    /** The database's receiver as its node last reported it, if that was within {@link #RECEIVER_FRESH}. */
    Optional<ReportedReceiver> receiver(UUID database) {
        return dsl.selectFrom(WAL_RECEIVERS).where(WAL_RECEIVERS.DATABASE_ID.eq(database))
                .and(DSL.condition("{0} >= now() - make_interval(secs => {1})", WAL_RECEIVERS.REPORTED_AT,
                        DSL.val(RECEIVER_FRESH.toSeconds())))
                .fetchOptional(r -> new ReportedReceiver(r.getInstanceId(), r.getNode(), reportedStatus(r)));
    }

    /**
     * A receiver's row as its stream's status. A catch-up counts only while it is past what is stored:
     * a node of an earlier version upserts the row without catch_up_lsn and caught_up_at, and leaves
     * a catch-up it did not write (another node's, finished since) in place.
     */
    static WalStream.Status reportedStatus(WalReceiversRecord r) {
        Lsn stored = r.getStoredLsn() == null ? null : new Lsn(r.getStoredLsn());
        Lsn catchUp = r.getCatchUpLsn() == null ? null : new Lsn(r.getCatchUpLsn());
        boolean catchingUp = catchUp != null && stored != null && catchUp.isAfter(stored);
        return new WalStream.Status(r.getConnected(), r.getReceivedLsn() == null ? null : new Lsn(r.getReceivedLsn()), stored,
                r.getUnstoredSince() == null ? null : r.getUnstoredSince().toInstant(),
                r.getStoredAt() == null ? null : r.getStoredAt().toInstant(), r.getProblem(),
                catchingUp ? catchUp : null, catchingUp && r.getCaughtUpAt() != null ? r.getCaughtUpAt().toInstant() : null);
    }

    /** A node that gave up reaching a database's primary {@code instance} to receive its WAL. */
    record Unreachable(UUID database, String node, UUID instance) {
    }

    /** Every node that gave up reaching a database's primary, as recorded (rows for an earlier primary included). */
    List<Unreachable> unreachable() {
        return dsl.selectFrom(WAL_RECEIVER_UNREACHABLE)
                .fetch(r -> new Unreachable(r.getDatabaseId(), r.getNode(), r.getInstanceId()));
    }

    /** Node {@code node} gives up reaching primary {@code instance} of {@code database} to receive its WAL. */
    void giveUpReaching(UUID database, String node, UUID instance) {
        dsl.insertInto(WAL_RECEIVER_UNREACHABLE).set(WAL_RECEIVER_UNREACHABLE.DATABASE_ID, database)
                .set(WAL_RECEIVER_UNREACHABLE.NODE, node).set(WAL_RECEIVER_UNREACHABLE.INSTANCE_ID, instance)
                .onConflict(WAL_RECEIVER_UNREACHABLE.DATABASE_ID, WAL_RECEIVER_UNREACHABLE.NODE).doUpdate()
                .set(WAL_RECEIVER_UNREACHABLE.INSTANCE_ID, instance).set(WAL_RECEIVER_UNREACHABLE.SINCE, DSL.currentOffsetDateTime())
                .execute();
    }

    /** Node {@code node} reaches the database's primary {@code instance} again, or that is no longer its primary. */
    void reachesAgain(UUID database, String node, UUID instance) {
        dsl.deleteFrom(WAL_RECEIVER_UNREACHABLE).where(WAL_RECEIVER_UNREACHABLE.DATABASE_ID.eq(database))
                .and(WAL_RECEIVER_UNREACHABLE.NODE.eq(node)).and(WAL_RECEIVER_UNREACHABLE.INSTANCE_ID.eq(instance)).execute();
    }

    /** Removes the database's receiver row if node {@code node} reported it last (it stopped its stream). */
    void forgetReceiver(UUID database, String node) {
        dsl.deleteFrom(WAL_RECEIVERS).where(WAL_RECEIVERS.DATABASE_ID.eq(database)).and(WAL_RECEIVERS.NODE.eq(node)).execute();
    }

    /** Forgets a deleted database's archive rows. */
    public void deleteAll(UUID database) {
        dsl.deleteFrom(STREAMED_WAL).where(STREAMED_WAL.DATABASE_ID.eq(database)).execute();
        dsl.deleteFrom(WAL_RECEIVERS).where(WAL_RECEIVERS.DATABASE_ID.eq(database)).execute();
        dsl.deleteFrom(WAL_RECEIVER_UNREACHABLE).where(WAL_RECEIVER_UNREACHABLE.DATABASE_ID.eq(database)).execute();
        dsl.deleteFrom(WAL_SYSTEMS).where(WAL_SYSTEMS.DATABASE_ID.eq(database)).execute();
        dsl.deleteFrom(ARCHIVED_WAL).where(ARCHIVED_WAL.DATABASE_ID.eq(database)).execute();
        dsl.deleteFrom(ARCHIVE_STATUS).where(ARCHIVE_STATUS.DATABASE_ID.eq(database)).execute();
    }

    private static ArchivedWal toArchivedWal(Record r) {
        WalFileName file = WalFileName.parse(r.get(ARCHIVED_WAL.NAME)).orElseThrow();
        return new ArchivedWal(file, r.get(ARCHIVED_WAL.SIZE_BYTES), r.get(ARCHIVED_WAL.STORED_BYTES), r.get(ARCHIVED_WAL.SHA256),
                r.get(ARCHIVED_WAL.COMPLETED_AT).toInstant(), r.get(ARCHIVED_WAL.ARCHIVED_AT).toInstant());
    }
}
