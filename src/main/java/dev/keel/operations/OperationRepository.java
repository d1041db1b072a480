package dev.keel.operations;

import dev.keel.catalog.CatalogSchema;
import dev.keel.catalog.schema.tables.records.OperationsRecord;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.problems.Failure;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.UpdateSetMoreStep;
import org.jooq.impl.DSL;

import java.time.OffsetDateTime;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;

/** Operation rows: creation, progress, and the end states (checked against {@link OperationState}). */
@Singleton
public final class OperationRepository {
    private static final int ERROR_LIMIT = 2000;

    /**
     * The kinds this version knows. A newer Keel's rows of another kind (during a rolling upgrade, or
     * on a node rolled back) are shown as they are ({@link #view}) and ended when their node is
     * forgotten, and nothing else here reads them: this version can neither run nor map them.
     */
    private static final List<String> KNOWN = OperationKind.known();
    private static final Condition KNOWN_KIND = OPERATIONS.KIND.in(KNOWN);

    /**
     * Kinds of work on a database's primary that find the primary when they begin and change
     * nothing before: one never begun by a node gone silent is taken over by the primary's node.
     */
    static final Set<OperationKind> FOLLOWS_THE_PRIMARY = EnumSet.of(OperationKind.BACKUP, OperationKind.PLAN_CHANGE,
            OperationKind.RECONFIGURE);

    private final DSLContext dsl;
    private final String node;
    private final ThisNode thisNode;
    /** The newest catalog migration this build carries, written on each operation it records ({@link #neverBegunOn}). */
    private final int known;

    OperationRepository(DSLContext dsl, ThisNode node, CatalogSchema schema) {
        this.dsl = dsl;
        this.node = node.name();
        this.thisNode = node;
        this.known = schema.known();
    }

    /**
     * Records a new running operation of {@code steps} steps, inside the caller's transaction. The
     * node that hosts the database's servers runs it (the servers its steps touch are there): its
     * live primary's, else its other servers' (a standby, one being made, a fenced one), else the
     * node its provision was recorded for; a new database's provision runs on this node.
     */
    public Operation create(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, String firstStep, int steps) {
        return create(tx, teamId, databaseId, kind, null, firstStep, steps);
    }

    /** As above, for a database whose servers node {@code node} is to make (it has none yet). */
    public Operation create(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, String firstStep, int steps, String node) {
        return insert(tx, teamId, databaseId, kind, null, firstStep, steps, DSL.val(node));
    }

    /** As above, at the step {@code firstStepCode} ({@link #progress(UUID, StepCode, String, long, long)}). */
    public Operation create(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, @Nullable StepCode firstStepCode,
                            String firstStep, int steps) {
        return insert(tx, teamId, databaseId, kind, firstStepCode, firstStep, steps,
                databaseId == null ? DSL.val(node) : DSL.coalesce(host(tx, databaseId), DSL.val(node)));
    }

    /** As above, at the step {@code firstStepCode}, for node {@code node} to run. */
    public Operation create(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, StepCode firstStepCode, String firstStep,
                            int steps, String node) {
        return insert(tx, teamId, databaseId, kind, firstStepCode, firstStep, steps, DSL.val(node));
    }

    private Operation insert(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, @Nullable StepCode firstStepCode,
                                    String firstStep, int steps, Field<String> runner) {
        UUID id = UUID.randomUUID();
        return tx.insertInto(OPERATIONS)
                .set(OPERATIONS.ID, id)
                .set(OPERATIONS.TEAM_ID, teamId)
                .set(OPERATIONS.DATABASE_ID, databaseId)
                .set(OPERATIONS.KIND, kind.value())
                .set(OPERATIONS.STATE, OperationState.RUNNING.value())
                .set(OPERATIONS.STEP, firstStep)
                .set(OPERATIONS.STEP_CODE, firstStepCode == null ? null : firstStepCode.code())
                .set(OPERATIONS.PROGRESS_TOTAL, (long) steps)
                .set(OPERATIONS.RECORDED_BY, node)
                .set(OPERATIONS.WRITER_MIGRATION, known)
                .set(OPERATIONS.NODE, runner)
                .returning()
                .fetchSingle(OperationRepository::toOperation);
    }

    /**
     * The node an operation on {@code databaseId} recorded without a node goes to ({@link #create}):
     * the one hosting its servers, live first, else the one its making was recorded for; empty when
     * neither is known (this node then).
     */
    public Optional<String> hostFor(UUID databaseId) {
        return dsl.select(host(dsl, databaseId)).fetchOptional(0, String.class);
    }

    /** The node hosting {@code databaseId}'s servers, live first, else the one its making was recorded for (null if neither). */
    private static Field<String> host(DSLContext tx, UUID databaseId) {
        return DSL.coalesce(hostOfServers(tx, databaseId), placedOn(tx, databaseId));
    }

    private static Field<String> hostOfServers(DSLContext tx, UUID databaseId) {
        Field<Boolean> retired = INSTANCES.STATE.in(InstanceState.DELETING.value(), InstanceState.FENCED.value());
        return DSL.field(tx.select(INSTANCES.NODE).from(INSTANCES)
                .where(INSTANCES.DATABASE_ID.eq(databaseId)).and(INSTANCES.NODE.isNotNull())
                .orderBy(retired.asc(), INSTANCES.ROLE.eq(InstanceRole.PRIMARY.value()).desc(), INSTANCES.CREATED_AT.desc())
                .limit(1));
    }

    /**
     * The node of the database's live primary, if it has one, as {@code InstanceRepository.primary}
     * finds it: a field on the outer query's database.
     */
    private static Field<String> primaryHost(DSLContext tx, Field<UUID> databaseId) {
        return DSL.field(tx.select(INSTANCES.NODE).from(INSTANCES)
                .where(INSTANCES.DATABASE_ID.eq(databaseId)).and(INSTANCES.ROLE.eq(InstanceRole.PRIMARY.value()))
                .and(INSTANCES.STATE.notIn(InstanceState.DELETING.value(), InstanceState.FENCED.value()))
                .orderBy(INSTANCES.CREATED_AT.desc()).limit(1));
    }

    /** The node a database's newest provision (or restore into a new database) was recorded for: it makes the servers. */
    private static Field<String> placedOn(DSLContext tx, UUID databaseId) {
        return DSL.field(tx.select(OPERATIONS.NODE).from(OPERATIONS)
                .where(OPERATIONS.DATABASE_ID.eq(databaseId))
                .and(OPERATIONS.KIND.in(OperationKind.PROVISION.value(), OperationKind.RESTORE.value()))
                .orderBy(OPERATIONS.CREATED_AT.desc())
                .limit(1));
    }

    /** As {@link #create(DSLContext, UUID, UUID, OperationKind, String, int)}, run by this node whichever node hosts the servers. */
    public Operation createHere(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, String firstStep, int steps) {
        return createHere(tx, teamId, databaseId, kind, null, firstStep, steps);
    }

    /**
     * As above, at the step {@code firstStepCode}: for work this node does in the caller's thread
     * (an upgrade's first backup, a failover or a restart in place the HA monitor decided), which
     * no other node's inbox may take up as handed to it.
     */
    public Operation createHere(DSLContext tx, UUID teamId, UUID databaseId, OperationKind kind, @Nullable StepCode firstStepCode,
                                String firstStep, int steps) {
        return insert(tx, teamId, databaseId, kind, firstStepCode, firstStep, steps, DSL.val(node));
    }

    /**
     * The running operations other nodes recorded for this node that are not among {@code known}
     * (those its runner has). What this node records for itself it runs as it records it.
     */
    List<Operation> handedHere(Set<UUID> known) {
        return dsl.selectFrom(OPERATIONS).where(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(OPERATIONS.NODE.eq(node))
                .and(OPERATIONS.RECORDED_BY.isDistinctFrom(node)).and(KNOWN_KIND)
                .and(known.isEmpty() ? DSL.noCondition() : OPERATIONS.ID.notIn(known))
                .orderBy(OPERATIONS.CREATED_AT).fetch(OperationRepository::toOperation);
    }

    /**
     * Records that this node's runner begins {@code operation}'s work (the time of the first
     * beginning stays); false when it is no longer this node's: another node took it over while
     * this one was silent ({@link #takeOver}). The two updates exclude each other on the row.
     */
    boolean begin(UUID operation) {
        return dsl.update(OPERATIONS).set(OPERATIONS.STARTED_AT, DSL.coalesce(OPERATIONS.STARTED_AT, DSL.currentOffsetDateTime()))
                .where(OPERATIONS.ID.eq(operation)).and(OPERATIONS.NODE.eq(node).or(OPERATIONS.NODE.isNull())).execute() == 1;
    }

    /**
     * The running operations addressed to one of {@code nodes} that no runner has begun and that
     * another node can do instead, oldest first: a provision or a restore into a new database (its
     * node had made nothing of it); a delete (the deleting node forgets the servers on silent
     * nodes, which each sets aside once it is back, {@code InstanceSweep}); and work on a
     * database's primary ({@link #FOLLOWS_THE_PRIMARY}) that another node recorded for the silent
     * one, whose primary is on another node now (a failover moved it off the silent node): each
     * reads the primary when it begins. Only work whose writer knew no catalog migration this build
     * does not carry (during a rolling upgrade a newer node's row may carry what this one cannot
     * read); each with that migration, which the node taking it over must know too
     * ({@code Placement.takeOver}).
     */
    List<Stranded> neverBegunOn(Set<String> nodes) {
        Field<String> primaryHost = primaryHost(dsl, OPERATIONS.DATABASE_ID);
        // A deletion whatever servers its database has: the deleting node forgets those on silent nodes, which set them
        // aside (InstanceSweep) once they are back.
        Condition movable = OPERATIONS.KIND.in(OperationKind.PROVISION.value(), OperationKind.RESTORE.value(),
                        OperationKind.DEPROVISION.value())
                .or(OPERATIONS.KIND.in(FOLLOWS_THE_PRIMARY.stream().map(OperationKind::value).toList())
                        .and(primaryHost.isNotNull()).and(primaryHost.ne(OPERATIONS.NODE))
                        // Not work a node recorded for itself: that it runs as it records it, some in the caller's thread
                        // without marking it begun (an upgrade's first backup).
                        .and(OPERATIONS.RECORDED_BY.isDistinctFrom(OPERATIONS.NODE)));
        Field<Integer> writer = writerMigration();
        Field<Integer> shown = writer.as("writer_migration_known");
        // The columns by name, never operations.*: a column a newer Keel added would shift the computed one (ArchitectureTest).
        return dsl.select(OPERATIONS.fields()).select(shown).from(OPERATIONS).where(OPERATIONS.STATE.eq(OperationState.RUNNING.value()))
                .and(OPERATIONS.NODE.in(nodes)).and(OPERATIONS.STARTED_AT.isNull()).and(movable).and(writer.le(known))
                .orderBy(OPERATIONS.CREATED_AT).fetch(r -> new Stranded(toOperation(r), r.get(shown)));
    }

    /** An operation a silent node never began, and the newest catalog migration its writer knew. */
    record Stranded(Operation operation, int writerMigration) {
    }

    /** The newest migration an operation's writer knew; a build before V87 recorded none, and knew V86. */
    private static Field<Integer> writerMigration() {
        return DSL.coalesce(OPERATIONS.WRITER_MIGRATION, DSL.inline(CatalogSchema.BEFORE_RECORDED));
    }

    /**
     * Readdresses {@code operation} from node {@code from} to this node, if it is still running,
     * still addressed to {@code from}, still not begun, and {@code from} still silent: a node that
     * returns heartbeats before its reconciler reads what it left, so what that read finds is no
     * longer taken over. The taken-over row, else empty.
     */
    Optional<Operation> takeOver(UUID operation, String from) {
        return takeOver(dsl, operation, from);
    }

    /** {@link #takeOver(UUID, String)} in transaction {@code tx}. */
    Optional<Operation> takeOver(DSLContext tx, UUID operation, String from) {
        return tx.update(OPERATIONS).set(OPERATIONS.NODE, node)
                .where(OPERATIONS.ID.eq(operation)).and(OPERATIONS.NODE.eq(from)).and(OPERATIONS.STARTED_AT.isNull())
                .and(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(silent(from))
                .returning().fetchOptional(OperationRepository::toOperation);
    }

    /**
     * Ends {@code operation} as failed with {@code failure}, if it is still running and addressed to
     * node {@code from}, and {@code from} is still silent (as {@link #takeOver} tells it); says
     * whether it did. For work a silent node holds up that another node can ask for anew.
     */
    public boolean giveUpOnSilent(UUID operation, String from, Failure failure) {
        return failing(failure)
                .where(OPERATIONS.ID.eq(operation)).and(OPERATIONS.NODE.eq(from))
                .and(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(silent(from))
                .execute() == 1;
    }

    /**
     * Ends as failed, with {@code failure}, every operation of database {@code databaseId} still
     * running and addressed to node {@code from} while {@code from} is silent, except its removals of
     * retired servers ({@code discard}), which that node runs should it return: the work a node an
     * operator forgot had begun or accepted, which would otherwise wait for it for good. The
     * operations it ended, whose own records (a backup's, a transfer's) the caller ends too.
     */
    public List<Operation> giveUpAllOnSilent(UUID databaseId, String from, Failure failure) {
        return failing(failure)
                .where(OPERATIONS.DATABASE_ID.eq(databaseId)).and(OPERATIONS.NODE.eq(from))
                .and(OPERATIONS.KIND.ne(OperationKind.DISCARD.value()))
                .and(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(silent(from))
                // A newer Keel's kind is ended too, with no record of its own this version could end.
                .returning().fetch().stream().filter(r -> KNOWN.contains(r.getKind())).map(OperationRepository::toOperation).toList();
    }

    /** An update that ends the operations it is given as failed with {@code failure}, now. */
    private UpdateSetMoreStep<OperationsRecord> failing(Failure failure) {
        return dsl.update(OPERATIONS)
                .set(OPERATIONS.STATE, OperationState.FAILED.value())
                .set(OPERATIONS.ERROR, failure.reason(ERROR_LIMIT))
                .set(OPERATIONS.ERROR_CODE, failure.code())
                .set(OPERATIONS.ERROR_RETRYABLE, failure.retryable())
                .set(OPERATIONS.UPDATED_AT, DSL.currentOffsetDateTime())
                .set(OPERATIONS.FINISHED_AT, DSL.currentOffsetDateTime());
    }

    /** Whether node {@code name} is silent now: its last heartbeat is older than {@code keel.node.lost-after}, by the catalog's clock. */
    private Condition silent(String name) {
        return DSL.exists(DSL.selectOne().from(NODES).where(NODES.NAME.eq(name)).and(thisNode.lost()));
    }

    /** Tells node {@code name} that an operation was recorded for it ({@link OperationInbox}). */
    void announce(String name) {
        dsl.select(DSL.function("pg_notify", Object.class, DSL.val(OperationInbox.CHANNEL), DSL.val(name))).execute();
    }

    /** Whether {@code operation} is still running: a hand-off read a moment ago may have finished meanwhile. */
    boolean stillRunning(UUID operation) {
        return dsl.fetchExists(OPERATIONS, OPERATIONS.ID.eq(operation).and(OPERATIONS.STATE.eq(OperationState.RUNNING.value())));
    }

    /** Reports that {@code operation} is at {@code step}, {@code done} of {@code total} steps. */
    public void progress(UUID operation, String step, long done, long total) {
        progress(operation, step, done, total, "steps");
    }

    /**
     * Reports that {@code operation} is at the step {@code code}, said as {@code step}: the code is
     * what a resumed operation reads, the sentence what people read.
     */
    public void progress(UUID operation, StepCode code, String step, long done, long total) {
        record(operation, code, step, done, total, "steps");
    }

    /** Reports that {@code operation} is at {@code step}, {@code done} of {@code total} {@code unit}s ("bytes", ...). */
    public void progress(UUID operation, String step, long done, long total, String unit) {
        record(operation, null, step, done, total, unit);
    }

    /** Writes a step and its progress; a step without a code leaves the code of the last step that had one. */
    private void record(UUID operation, @Nullable StepCode code, String step, long done, long total, String unit) {
        UpdateSetMoreStep<OperationsRecord> update = dsl.update(OPERATIONS)
                .set(OPERATIONS.STEP, step)
                .set(OPERATIONS.PROGRESS_DONE, done)
                .set(OPERATIONS.PROGRESS_TOTAL, total)
                .set(OPERATIONS.PROGRESS_UNIT, unit)
                .set(OPERATIONS.UPDATED_AT, DSL.currentOffsetDateTime());
        if (code != null) {
            update = update.set(OPERATIONS.STEP_CODE, code.code());
        }
        update.where(OPERATIONS.ID.eq(operation)).execute();
    }

    public void succeed(UUID operation) {
        finish(operation, OperationState.SUCCEEDED, null);
    }

    /** Ends {@code operation} as failed for a reason Keel wrote itself (an {@code internal} failure a retry may mend). */
    public void fail(UUID operation, String error) {
        fail(operation, Failure.of(ProblemType.INTERNAL, error));
    }

    /** Ends {@code operation} as failed, storing the failure's sentence, stable code and whether a retry can help. */
    public void fail(UUID operation, Failure failure) {
        finish(operation, OperationState.FAILED, failure);
    }

    private void finish(UUID operation, OperationState target, Failure failure) {
        dsl.transaction(tx -> {
            String current = tx.dsl().select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(operation)).forUpdate()
                    .fetchSingle(OPERATIONS.STATE);
            if (!OperationState.of(current).canBecome(target)) {
                throw new IllegalStateException("operation " + operation + " cannot go from " + current + " to " + target.value());
            }
            tx.dsl().update(OPERATIONS)
                    .set(OPERATIONS.STATE, target.value())
                    .set(OPERATIONS.ERROR, failure == null ? null : failure.reason(ERROR_LIMIT))
                    .set(OPERATIONS.ERROR_CODE, failure == null ? null : failure.code())
                    .set(OPERATIONS.ERROR_RETRYABLE, failure == null ? null : failure.retryable())
                    .set(OPERATIONS.UPDATED_AT, DSL.currentOffsetDateTime())
                    .set(OPERATIONS.FINISHED_AT, DSL.currentOffsetDateTime())
                    .where(OPERATIONS.ID.eq(operation))
                    .execute();
        });
    }

    /** Counts a new attempt of an interrupted operation and returns it. */
    Operation nextAttempt(UUID operation) {
        return dsl.update(OPERATIONS)
                .set(OPERATIONS.ATTEMPT, OPERATIONS.ATTEMPT.plus(1))
                .set(OPERATIONS.STEP, (String) null)
                .set(OPERATIONS.STEP_CODE, (String) null)
                .set(OPERATIONS.PROGRESS_DONE, 0L)
                .set(OPERATIONS.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(OPERATIONS.ID.eq(operation))
                .returning()
                .fetchSingle(OperationRepository::toOperation);
    }

    /**
     * This node's operations that are still running, oldest first: those recorded for it, and those
     * recorded before operations named their node, which it claims here. Another node's are left
     * to that node.
     */
    List<Operation> unfinishedHere() {
        return dsl.transactionResult(tx -> {
            // Whether one of those had begun is not recorded: it is taken as begun, and recovered as interrupted.
            tx.dsl().update(OPERATIONS).set(OPERATIONS.NODE, node).set(OPERATIONS.RECORDED_BY, node)
                    .set(OPERATIONS.STARTED_AT, DSL.coalesce(OPERATIONS.STARTED_AT, OPERATIONS.CREATED_AT))
                    .where(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(OPERATIONS.NODE.isNull())
                    .execute();
            return tx.dsl().selectFrom(OPERATIONS).where(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(OPERATIONS.NODE.eq(node))
                    .and(KNOWN_KIND).orderBy(OPERATIONS.CREATED_AT).fetch(OperationRepository::toOperation);
        });
    }

    /**
     * This node's running operations of kinds this version does not know ({@link #KNOWN_KIND}), as
     * {@code <id> (<kind>, recorded by <node>)}: a newer Keel's work, left for a node that runs it.
     */
    List<String> unknownHere() {
        return dsl.select(OPERATIONS.ID, OPERATIONS.KIND, OPERATIONS.RECORDED_BY).from(OPERATIONS)
                .where(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(OPERATIONS.NODE.eq(node)).and(DSL.not(KNOWN_KIND))
                .orderBy(OPERATIONS.CREATED_AT).fetch(r -> r.value1() + " (" + r.value2() + ", recorded by " + r.value3() + ")");
    }

    /** Operation {@code id} of team {@code teamId} as {@code GET /v1/operations/{id}} shows it, whatever its kind (a newer Keel's too). */
    Optional<OperationView> view(UUID teamId, UUID id) {
        return dsl.selectFrom(OPERATIONS).where(OPERATIONS.TEAM_ID.eq(teamId)).and(OPERATIONS.ID.eq(id)).fetchOptional(r -> new OperationView(
                r.getId(), r.getKind(), r.getState(), r.getDatabaseId(), r.getStep(), r.getStepCode(),
                new OperationView.Progress(r.getProgressDone(), r.getProgressTotal(), r.getProgressUnit()), r.getAttempt(), r.getError(),
                r.getErrorCode(), r.getErrorRetryable(), r.getCreatedAt(), r.getUpdatedAt(), r.getFinishedAt(), r.getNode()));
    }

    public Optional<Operation> find(UUID teamId, UUID id) {
        return dsl.selectFrom(OPERATIONS).where(OPERATIONS.TEAM_ID.eq(teamId)).and(OPERATIONS.ID.eq(id))
                .fetchOptional(OperationRepository::toOperation);
    }

    /**
     * Forgets operations that finished before {@code before}, at most {@code batch} of them; how
     * many it forgot. A failover of a database that still exists is kept: the failover count
     * (a metric) counts them, and there are few.
     */
    int prune(OffsetDateTime before, int batch) {
        return dsl.deleteFrom(OPERATIONS).where(OPERATIONS.ID.in(DSL.select(OPERATIONS.ID).from(OPERATIONS)
                .where(OPERATIONS.STATE.in(OperationState.SUCCEEDED.value(), OperationState.FAILED.value()))
                .and(OPERATIONS.FINISHED_AT.lt(before))
                .and(OPERATIONS.KIND.ne(OperationKind.FAILOVER.value()).or(OPERATIONS.DATABASE_ID.notIn(
                        DSL.select(DATABASES.ID).from(DATABASES))).or(OPERATIONS.DATABASE_ID.isNull()))
                .limit(batch))).execute();
    }

    /** The databases with an operation of {@code kind} still running and addressed to node {@code node}. */
    public List<UUID> databasesRunning(OperationKind kind, String node) {
        return dsl.selectDistinct(OPERATIONS.DATABASE_ID).from(OPERATIONS)
                .where(OPERATIONS.KIND.eq(kind.value())).and(OPERATIONS.NODE.eq(node))
                .and(OPERATIONS.STATE.eq(OperationState.RUNNING.value())).and(OPERATIONS.DATABASE_ID.isNotNull())
                .fetch(OPERATIONS.DATABASE_ID);
    }

    /** The newest operation of one of {@code kinds} on a database that is still running, if any. */
    public Optional<Operation> running(UUID databaseId, Set<OperationKind> kinds) {
        return dsl.selectFrom(OPERATIONS)
                .where(OPERATIONS.DATABASE_ID.eq(databaseId))
                .and(OPERATIONS.STATE.eq(OperationState.RUNNING.value()))
                .and(OPERATIONS.KIND.in(kinds.stream().map(OperationKind::value).toList()))
                .orderBy(OPERATIONS.CREATED_AT.desc())
                .limit(1)
                .fetchOptional(OperationRepository::toOperation);
    }

    /**
     * The 409 for a request that would queue a second operation of {@code kind} on a database that
     * has one queued or running: it names the first, so the caller can follow that one instead.
     */
    public KeelException alreadyPending(UUID databaseId, OperationKind kind, String what) {
        return alreadyPending(ProblemType.ALREADY_QUEUED, databaseId, kind, what);
    }

    /** As above, with a type of its own (a backup's is {@code backup-running}). */
    public KeelException alreadyPending(ProblemType type, UUID databaseId, OperationKind kind, String what) {
        Optional<Operation> first = running(databaseId, EnumSet.of(kind));
        KeelException conflict = new KeelException(type, what + " is already queued or running"
                + first.map(o -> " (operation " + o.id() + ")").orElse("") + "; follow it with GET /v1/operations/{id} and ask again"
                + " once it has finished.");
        return first.map(o -> conflict.with("operation_id", o.id().toString())).orElse(conflict);
    }

    private static Operation toOperation(Record r) {
        return new Operation(r.get(OPERATIONS.ID), r.get(OPERATIONS.TEAM_ID), r.get(OPERATIONS.DATABASE_ID),
                OperationKind.of(r.get(OPERATIONS.KIND)), OperationState.of(r.get(OPERATIONS.STATE)), r.get(OPERATIONS.STEP), r.get(OPERATIONS.STEP_CODE),
                r.get(OPERATIONS.PROGRESS_DONE), r.get(OPERATIONS.PROGRESS_TOTAL), r.get(OPERATIONS.PROGRESS_UNIT),
                r.get(OPERATIONS.ATTEMPT), r.get(OPERATIONS.ERROR), r.get(OPERATIONS.ERROR_CODE), r.get(OPERATIONS.ERROR_RETRYABLE), r.get(OPERATIONS.CREATED_AT), r.get(OPERATIONS.UPDATED_AT),
                r.get(OPERATIONS.FINISHED_AT), r.get(OPERATIONS.NODE), r.get(OPERATIONS.RECORDED_BY),
                r.get(OPERATIONS.STARTED_AT));
    }
}
