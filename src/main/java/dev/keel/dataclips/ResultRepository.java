package dev.keel.dataclips;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.keel.catalog.AdvisoryLock;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.Record2;
import org.jooq.impl.DSL;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.IntConsumer;

import static dev.keel.catalog.schema.Tables.DATACLIPS;
import static dev.keel.catalog.schema.Tables.DATACLIP_RESULTS;
import static dev.keel.catalog.schema.Tables.DATACLIP_RESULT_CHUNKS;
import static dev.keel.catalog.schema.Tables.DATACLIP_TEAM_RATES;
import static dev.keel.catalog.schema.Tables.NODES;

/** Result rows and their chunks of stored rows. */
@Singleton
final class ResultRepository {
    private static final TypeReference<List<String>> STRINGS = new TypeReference<>() {
    };
    private static final TypeReference<List<List<Object>>> PAIRS = new TypeReference<>() {
    };
    /** Chunks read per catalog query while streaming a result out. */
    private static final int CHUNKS_PER_READ = 8;

    private final DSLContext dsl;

    ResultRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /**
     * A share link's own limit on its clip's runs: {@code admit} is told how many runs of the clip (over all its versions and
     * parameter values, whoever started them) started within {@code within}, and throws to refuse one more.
     */
    record LinkRuns(Duration within, IntConsumer admit) {
    }

    /**
     * Records a run of team {@code team}'s version with {@code parameters}, running on node
     * {@code node}, once {@code admit}, told how many of the team's runs are not finished
     * ({@link #unfinished}), and, for a run a share link starts, {@code link}, have not thrown:
     * the counts and the record are one transaction under the team's run lock, so that two nodes
     * (or two requests) never both admit the run past the team's limit or the link's.
     */
    ClipResult start(UUID team, UUID clipId, UUID versionId, String parameters, String node, Condition lost, IntConsumer admit,
                     TeamRunRate rate, @Nullable LinkRuns link) {
        UUID id = dsl.transactionResult(configuration -> {
            DSLContext tx = configuration.dsl();
            AdvisoryLock.acquireTeamRuns(tx, team);
            admit.accept(unfinished(tx, team, lost));
            if (link != null) {
                link.admit().accept(startedWithin(tx, clipId, link.within()));
            }
            Instant next = admitRate(tx, team, rate);
            tx.insertInto(DATACLIP_TEAM_RATES).set(DATACLIP_TEAM_RATES.TEAM_ID, team).set(DATACLIP_TEAM_RATES.NEXT_AT, utc(next))
                    .onConflict(DATACLIP_TEAM_RATES.TEAM_ID).doUpdate().set(DATACLIP_TEAM_RATES.NEXT_AT, utc(next))
                    .execute();
            UUID run = UUID.randomUUID();
            tx.insertInto(DATACLIP_RESULTS)
                    .set(DATACLIP_RESULTS.ID, run)
                    .set(DATACLIP_RESULTS.NODE, node)
                    .set(DATACLIP_RESULTS.DATACLIP_ID, clipId)
                    .set(DATACLIP_RESULTS.VERSION_ID, versionId)
                    .set(DATACLIP_RESULTS.PARAMETERS, parameters)
                    .set(DATACLIP_RESULTS.STATE, ClipResult.RUNNING)
                    // Not the column's default, now(): the transaction's start, before the wait for the team's lock, which
                    // would date a run that waited early and drop it from the minute startedWithin counts on this clock.
                    .set(DATACLIP_RESULTS.STARTED_AT, DSL.field("pg_catalog.statement_timestamp()", OffsetDateTime.class))
                    .execute();
            return run;
        });
        return find(id).orElseThrow();
    }

    /**
     * The time of team {@code team}'s run rate across the nodes once one more run starts now (the
     * catalog's clock), read through {@code sql}; the 429 of {@link TeamRunRate} when it may not.
     */
    Instant admitRate(DSLContext sql, UUID team, TeamRunRate rate) {
        // The statement's time, not the transaction's: the team's lock may have been waited for since it began.
        Record2<OffsetDateTime, OffsetDateTime> read = sql.select(DSL.field("pg_catalog.statement_timestamp()", OffsetDateTime.class),
                        DSL.field(DSL.select(DATACLIP_TEAM_RATES.NEXT_AT).from(DATACLIP_TEAM_RATES).where(DATACLIP_TEAM_RATES.TEAM_ID.eq(team))))
                .fetchSingle();
        return rate.admit(read.value2() == null ? null : read.value2().toInstant(), read.value1().toInstant());
    }

    /** Gives back the share of a run {@link #start} charged to team {@code team}'s rate and that was then refused on this node. */
    void refund(UUID team, TeamRunRate rate) {
        dsl.transaction(configuration -> {
            DSLContext tx = configuration.dsl();
            AdvisoryLock.acquireTeamRuns(tx, team);
            tx.update(DATACLIP_TEAM_RATES)
                    .set(DATACLIP_TEAM_RATES.NEXT_AT, DSL.field("{0} - pg_catalog.make_interval(secs => {1})", OffsetDateTime.class,
                            DATACLIP_TEAM_RATES.NEXT_AT, DSL.val(rate.share().toNanos() / 1e9)))
                    .where(DATACLIP_TEAM_RATES.TEAM_ID.eq(team)).execute();
        });
    }

    /** {@link #admitRate(DSLContext, UUID, TeamRunRate)} read now, without the team's run lock, and recording nothing. */
    void checkRate(UUID team, TeamRunRate rate) {
        admitRate(dsl, team, rate);
    }

    private static OffsetDateTime utc(Instant at) {
        return at.atOffset(ZoneOffset.UTC);
    }

    /**
     * How many of team {@code team}'s runs are not finished (running, or waiting for a runner) on
     * the nodes that heartbeat, read through {@code sql}. Not counted: the runs of a node silent
     * past {@code keel.node.lost-after} ({@code lost}: they ended with its Keel), those a Keel older than node names
     * recorded (no node; during a rolling upgrade, a team may pass its limit by those), and runs
     * of more than a day ago (a run ends at its time limit long before).
     */
    int unfinished(DSLContext sql, UUID team, Condition lost) {
        return sql.fetchCount(DSL.selectOne().from(DATACLIP_RESULTS).join(DATACLIPS).on(DATACLIPS.ID.eq(DATACLIP_RESULTS.DATACLIP_ID))
                .where(DATACLIPS.TEAM_ID.eq(team)).and(DATACLIP_RESULTS.STATE.eq(ClipResult.RUNNING))
                .and(DATACLIP_RESULTS.STARTED_AT.gt(DSL.field("pg_catalog.now() - interval '1 day'", OffsetDateTime.class)))
                .and(DATACLIP_RESULTS.NODE.in(DSL.select(NODES.NAME).from(NODES).where(DSL.not(lost)))));
    }

    /** {@link #unfinished(DSLContext, UUID, Condition)} read now, without the team's run lock. */
    int unfinished(UUID team, Condition lost) {
        return unfinished(dsl, team, lost);
    }

    /**
     * Ends the runs of {@code nodes} (whose Keel stopped while they ran) as failed, and, with
     * {@code unnamed}, those an older Keel recorded with no node.
     */
    void failRunningOn(Set<String> nodes, boolean unnamed) {
        Condition stopped = DATACLIP_RESULTS.NODE.in(nodes);
        dsl.update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.STATE, ClipResult.FAILED)
                .set(DATACLIP_RESULTS.FINISHED_AT, DSL.currentOffsetDateTime())
                .set(DATACLIP_RESULTS.ERROR_MESSAGE, "Keel stopped while this ran; refresh the dataclip to run it again.")
                .where(DATACLIP_RESULTS.STATE.eq(ClipResult.RUNNING))
                .and(unnamed ? stopped.or(DATACLIP_RESULTS.NODE.isNull()) : stopped).execute();
    }

    /** Removes a result that never ran. */
    void delete(UUID id) {
        dsl.deleteFrom(DATACLIP_RESULTS).where(DATACLIP_RESULTS.ID.eq(id)).execute();
    }

    void ranOn(UUID id, String where, UUID database) {
        dsl.update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.RAN_ON, where).set(DATACLIP_RESULTS.RAN_ON_DATABASE, database)
                .where(DATACLIP_RESULTS.ID.eq(id)).execute();
    }

    void columns(UUID id, List<String> fields, List<ColumnType> types) {
        List<List<Object>> pairs = new ArrayList<>();
        for (ColumnType type : types) {
            pairs.add(List.of(type.oid(), type.name()));
        }
        dsl.update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.FIELDS, Json.write(fields)).set(DATACLIP_RESULTS.TYPES, Json.write(pairs))
                .where(DATACLIP_RESULTS.ID.eq(id)).execute();
    }

    void addChunk(UUID id, int seq, int rows, byte[] data) {
        dsl.insertInto(DATACLIP_RESULT_CHUNKS)
                .set(DATACLIP_RESULT_CHUNKS.RESULT_ID, id)
                .set(DATACLIP_RESULT_CHUNKS.SEQ, seq)
                .set(DATACLIP_RESULT_CHUNKS.ROW_COUNT, rows)
                .set(DATACLIP_RESULT_CHUNKS.DATA, data)
                .execute();
    }

    /**
     * Ends a run as succeeded, with why it holds fewer rows or shorter cells than its query returned
     * (null: it does not) and the length cells were cut to ({@code cellLimit}, null when none were); false, and its rows gone, when it had been ended already (taken for
     * stopped: its node was silent a while), whose end stands.
     */
    boolean succeeded(UUID id, long rows, @Nullable Truncation truncation, @Nullable String detail, @Nullable Integer cellLimit) {
        int ended = dsl.update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.STATE, ClipResult.SUCCEEDED)
                .set(DATACLIP_RESULTS.FINISHED_AT, DSL.currentOffsetDateTime())
                .set(DATACLIP_RESULTS.ROW_COUNT, rows).set(DATACLIP_RESULTS.TRUNCATED, truncation != null)
                .set(DATACLIP_RESULTS.TRUNCATED_REASON, truncation == null ? null : truncation.code())
                .set(DATACLIP_RESULTS.TRUNCATED_DETAIL, detail).set(DATACLIP_RESULTS.CELL_LIMIT, cellLimit)
                .where(DATACLIP_RESULTS.ID.eq(id)).and(DATACLIP_RESULTS.STATE.eq(ClipResult.RUNNING)).execute();
        if (ended == 0) {
            dsl.deleteFrom(DATACLIP_RESULT_CHUNKS).where(DATACLIP_RESULT_CHUNKS.RESULT_ID.eq(id)).execute();
        }
        return ended > 0;
    }

    /** Ends a run as failed (unless it was ended already); the rows stored so far go. */
    void failed(UUID id, String message, @Nullable Integer position, @Nullable String sqlstate) {
        dsl.transaction(tx -> {
            tx.dsl().deleteFrom(DATACLIP_RESULT_CHUNKS).where(DATACLIP_RESULT_CHUNKS.RESULT_ID.eq(id)).execute();
            tx.dsl().update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.STATE, ClipResult.FAILED)
                    .set(DATACLIP_RESULTS.FINISHED_AT, DSL.currentOffsetDateTime())
                    .set(DATACLIP_RESULTS.ERROR_MESSAGE, message).set(DATACLIP_RESULTS.ERROR_POSITION, position)
                    .set(DATACLIP_RESULTS.ERROR_SQLSTATE, sqlstate)
                    .where(DATACLIP_RESULTS.ID.eq(id)).and(DATACLIP_RESULTS.STATE.eq(ClipResult.RUNNING)).execute();
        });
    }

    /** Keeps the stored rows of {@code keep} only, among the clip's results with the same parameters: older ones are history. */
    void dropOlderRows(UUID clipId, String parameters, UUID keep) {
        dsl.deleteFrom(DATACLIP_RESULT_CHUNKS).where(DATACLIP_RESULT_CHUNKS.RESULT_ID.in(
                DSL.select(DATACLIP_RESULTS.ID).from(DATACLIP_RESULTS).where(DATACLIP_RESULTS.DATACLIP_ID.eq(clipId))
                        .and(DATACLIP_RESULTS.PARAMETERS.eq(parameters)).and(DATACLIP_RESULTS.ID.ne(keep))
                        .and(DATACLIP_RESULTS.STATE.ne(ClipResult.RUNNING)))).execute();
    }

    /**
     * Keeps the stored rows of the clip's {@code keep} newest succeeded results (over all
     * parameter values): a link's many parameter values cannot fill the catalog.
     */
    void keepRowsOfNewest(UUID clipId, int keep) {
        dsl.deleteFrom(DATACLIP_RESULT_CHUNKS).where(DATACLIP_RESULT_CHUNKS.RESULT_ID.in(
                DSL.select(DATACLIP_RESULTS.ID).from(DATACLIP_RESULTS).where(DATACLIP_RESULTS.DATACLIP_ID.eq(clipId))
                        .and(DATACLIP_RESULTS.STATE.eq(ClipResult.SUCCEEDED)).orderBy(DATACLIP_RESULTS.STARTED_AT.desc())
                        .offset(keep))).execute();
    }

    /**
     * How many runs of the clip started within {@code within} of now, read through {@code sql}; now is the statement's time
     * on the catalog's clock, not the transaction's: the team's lock may have been waited for since it began.
     */
    int startedWithin(DSLContext sql, UUID clipId, Duration within) {
        return sql.fetchCount(DATACLIP_RESULTS, DATACLIP_RESULTS.DATACLIP_ID.eq(clipId).and(DATACLIP_RESULTS.STARTED_AT.gt(
                DSL.field("pg_catalog.statement_timestamp() - pg_catalog.make_interval(secs => {0})", OffsetDateTime.class,
                        DSL.val(within.toNanos() / 1e9)))));
    }

    /** {@link #startedWithin(DSLContext, UUID, Duration)} read now, without the team's run lock. */
    int startedWithin(UUID clipId, Duration within) {
        return startedWithin(dsl, clipId, within);
    }

    Optional<ClipResult> find(UUID id) {
        return dsl.selectFrom(DATACLIP_RESULTS).where(DATACLIP_RESULTS.ID.eq(id)).fetchOptional().map(ResultRepository::toResult);
    }

    /** The newest run of this version with these parameter values, whatever its state. */
    Optional<ClipResult> newest(UUID versionId, String parameters) {
        return dsl.selectFrom(DATACLIP_RESULTS).where(DATACLIP_RESULTS.VERSION_ID.eq(versionId))
                .and(DATACLIP_RESULTS.PARAMETERS.eq(parameters)).orderBy(DATACLIP_RESULTS.STARTED_AT.desc()).limit(1)
                .fetchOptional().map(ResultRepository::toResult);
    }

    /** The newest finished run of this version with these parameter values. */
    Optional<ClipResult> newestFinished(UUID versionId, String parameters) {
        return dsl.selectFrom(DATACLIP_RESULTS).where(DATACLIP_RESULTS.VERSION_ID.eq(versionId))
                .and(DATACLIP_RESULTS.PARAMETERS.eq(parameters)).and(DATACLIP_RESULTS.STATE.ne(ClipResult.RUNNING))
                .orderBy(DATACLIP_RESULTS.STARTED_AT.desc()).limit(1)
                .fetchOptional().map(ResultRepository::toResult);
    }

    List<ClipResult> ofVersion(UUID versionId) {
        return dsl.selectFrom(DATACLIP_RESULTS).where(DATACLIP_RESULTS.VERSION_ID.eq(versionId))
                .orderBy(DATACLIP_RESULTS.STARTED_AT.desc()).fetch().map(ResultRepository::toResult);
    }

    /** The stored rows of a result, in order, read a few chunks at a time as the caller iterates. */
    Iterator<List<String[]>> chunks(ClipResult result) {
        int columns = result.fields().size();
        Iterator<byte[]> raw = rawChunks(result);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return raw.hasNext();
            }

            @Override
            public List<String[]> next() {
                return RowChunks.decode(raw.next(), columns);
            }
        };
    }

    /** The stored chunks of a result, decompressed (see {@link RowChunks}), in order, a few per catalog query. */
    Iterator<byte[]> rawChunks(ClipResult result) {
        return new Iterator<>() {
            private final List<byte[]> buffered = new ArrayList<>();
            private int nextSeq = 0;
            private boolean exhausted;

            @Override
            public boolean hasNext() {
                if (buffered.isEmpty() && !exhausted) {
                    buffered.addAll(dsl.select(DATACLIP_RESULT_CHUNKS.DATA).from(DATACLIP_RESULT_CHUNKS)
                            .where(DATACLIP_RESULT_CHUNKS.RESULT_ID.eq(result.id()))
                            .and(DATACLIP_RESULT_CHUNKS.SEQ.between(nextSeq, nextSeq + CHUNKS_PER_READ - 1))
                            .orderBy(DATACLIP_RESULT_CHUNKS.SEQ).fetch(DATACLIP_RESULT_CHUNKS.DATA));
                    nextSeq += CHUNKS_PER_READ;
                    exhausted = buffered.size() < CHUNKS_PER_READ;
                }
                return !buffered.isEmpty();
            }

            @Override
            public byte[] next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return RowChunks.decompress(buffered.remove(0));
            }
        };
    }

    private static ClipResult toResult(Record r) {
        String fields = r.get(DATACLIP_RESULTS.FIELDS);
        String types = r.get(DATACLIP_RESULTS.TYPES);
        List<ColumnType> columnTypes = new ArrayList<>();
        if (types != null) {
            for (List<Object> pair : Json.read(types, PAIRS)) {
                columnTypes.add(ColumnType.stored(((Number) pair.get(0)).intValue(), (String) pair.get(1)));
            }
        }
        Long rows = r.get(DATACLIP_RESULTS.ROW_COUNT);
        return new ClipResult(r.get(DATACLIP_RESULTS.ID), r.get(DATACLIP_RESULTS.DATACLIP_ID), r.get(DATACLIP_RESULTS.VERSION_ID),
                r.get(DATACLIP_RESULTS.PARAMETERS), r.get(DATACLIP_RESULTS.STATE), r.get(DATACLIP_RESULTS.STARTED_AT),
                r.get(DATACLIP_RESULTS.FINISHED_AT), r.get(DATACLIP_RESULTS.RAN_ON), r.get(DATACLIP_RESULTS.RAN_ON_DATABASE),
                fields == null ? List.of() : Json.read(fields, STRINGS), columnTypes, rows == null ? 0 : rows,
                Boolean.TRUE.equals(r.get(DATACLIP_RESULTS.TRUNCATED)), r.get(DATACLIP_RESULTS.TRUNCATED_REASON),
                r.get(DATACLIP_RESULTS.TRUNCATED_DETAIL), r.get(DATACLIP_RESULTS.ERROR_MESSAGE),
                r.get(DATACLIP_RESULTS.ERROR_POSITION), r.get(DATACLIP_RESULTS.ERROR_SQLSTATE), r.get(DATACLIP_RESULTS.CELL_LIMIT));
    }
}
