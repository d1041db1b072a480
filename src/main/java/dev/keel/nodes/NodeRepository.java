package dev.keel.nodes;

import dev.keel.catalog.CatalogSchema;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.Record1;
import org.jooq.SQLDialect;
import org.jooq.Select;
import org.jooq.SelectConditionStep;
import org.jooq.impl.DSL;

import java.sql.Connection;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;

/**
 * Node rows, and which instances each node hosts. Every time is the catalog's clock ({@code now()}),
 * read with the rows, so that nodes whose clocks differ agree on how old a heartbeat is.
 */
@Singleton
final class NodeRepository {
    /**
     * Every operation kind this version knows, as {@code OperationKind} writes them (operations
     * depend on nodes, not back; {@code NodeDrainTest} holds the two lists equal).
     */
    static final List<String> KNOWN_KINDS = List.of("provision", "deprovision", "backup", "restore", "unfollow", "standby", "failover",
            "restart", "plan_change", "logical_backup", "logical_restore", "upgrade", "rebuild", "reconfigure", "discard", "remake");

    /**
     * The catalog's time, read after a node's columns named one by one ({@code NODES.fields()}). Never {@code nodes.*}: jOOQ reads
     * the columns it knows by position, so a column a newer Keel added would shift {@code now} by one and keep this, older, node
     * from reading a node at all.
     */
    private static final Field<OffsetDateTime> NOW = DSL.currentOffsetDateTime().as("now");

    private final DSLContext dsl;

    NodeRepository(DSLContext dsl) {
        this.dsl = dsl;
    }

    /**
     * A node's row as read at {@code now}; {@code migration} is the newest catalog migration its build carries (a build before
     * V87 wrote none, and counts as knowing {@link CatalogSchema#BEFORE_RECORDED}).
     */
    record Row(String name, @Nullable String apiUrl, String version, boolean embeddedCatalog, OffsetDateTime startedAt,
               OffsetDateTime heartbeatAt, boolean drained, @Nullable OffsetDateTime drainedAt, int portFirst, int portLast,
               long memoryBudgetMb, long diskBudgetMb, @Nullable Long diskFreeMb, @Nullable Long diskUsedMb,
               @Nullable OffsetDateTime forgottenAt, int migration, OffsetDateTime now) {
        /** How long it has not heartbeat, by the catalog's clock. */
        Duration silence() {
            return Duration.between(heartbeatAt, now);
        }

        /** Its state now, by the catalog's clock, as {@code node} tells lost. */
        NodeState state(ThisNode node) {
            return NodeState.of(drained, forgottenAt != null && !heartbeatAt.isAfter(forgottenAt), node.isLost(silence()));
        }
    }

    /** An instance as a node's listing shows it; {@code database} is null for a warm-pool instance. */
    record Hosted(UUID id, @Nullable UUID databaseId, @Nullable String database, @Nullable String plan, String role, String state,
                  int major, String node) {
        /**
         * A server of {@code database} recorded for {@code node} and not reserved yet, as if the node
         * hosted it already (being created, of no major a warm instance could match), so that its
         * room is taken.
         */
        static Hosted unreserved(UUID database, String plan, String role, String node) {
            return new Hosted(database, database, null, plan, role, "creating", -1, node);
        }

        /** This server as its database's would count on plan {@code other}. */
        Hosted onPlan(String other) {
            return new Hosted(id, databaseId, database, other, role, state, major, node);
        }
    }

    /**
     * Writes {@code node}'s row as started now, with {@code migration}, the newest catalog migration
     * its build carries (a drain survives a restart), and gives it the instances no node holds: rows
     * from before the registry. With {@code takeOver}, also every other node's instances, and their
     * rows go: an embedded catalog is one node's.
     */
    void register(ThisNode node, String publicHost, int migration, boolean takeOver) {
        dsl.transaction(tx -> {
            DSLContext sql = tx.dsl();
            sql.insertInto(NODES)
                    .set(NODES.NAME, node.name())
                    .set(NODES.VERSION, node.version())
                    .set(NODES.EMBEDDED_CATALOG, node.embeddedCatalog())
                    .set(NODES.PORT_FIRST, node.ports().first())
                    .set(NODES.PORT_LAST, node.ports().last())
                    .set(NODES.MEMORY_BUDGET_MB, node.memoryBudgetMb())
                    .set(NODES.DISK_BUDGET_MB, node.diskBudgetMb())
                    .set(NODES.PUBLIC_HOST, publicHost)
                    .set(NODES.MIGRATION, migration)
                    .onConflict(NODES.NAME).doUpdate()
                    .set(NODES.PUBLIC_HOST, publicHost)
                    .set(NODES.MIGRATION, migration)
                    .set(NODES.VERSION, node.version())
                    .set(NODES.EMBEDDED_CATALOG, node.embeddedCatalog())
                    .set(NODES.STARTED_AT, DSL.currentOffsetDateTime())
                    .set(NODES.HEARTBEAT_AT, DSL.currentOffsetDateTime())
                    .set(NODES.PORT_FIRST, node.ports().first())
                    .set(NODES.PORT_LAST, node.ports().last())
                    .set(NODES.MEMORY_BUDGET_MB, node.memoryBudgetMb())
                    .set(NODES.DISK_BUDGET_MB, node.diskBudgetMb())
                    .execute();
            sql.update(INSTANCES).set(INSTANCES.NODE, node.name())
                    .where(takeOver ? INSTANCES.NODE.isDistinctFrom(node.name()) : INSTANCES.NODE.isNull())
                    .execute();
            if (takeOver) {
                sql.deleteFrom(NODES).where(NODES.NAME.ne(node.name())).execute();
            }
        });
    }

    /** A database as placement sees it: its plan and major, whether it follows another, and its leader's primary's node then. */
    record Making(String plan, int major, boolean following, @Nullable String leaderNode) {
    }

    /** Database {@code id}'s plan and leader's node, if it exists, read through {@code sql}. */
    Optional<Making> making(DSLContext sql, UUID id) {
        Field<String> leaderNode = DSL.select(INSTANCES.NODE).from(INSTANCES)
                .where(INSTANCES.DATABASE_ID.eq(DATABASES.LEADER_ID)).and(INSTANCES.ROLE.eq("primary"))
                .and(INSTANCES.STATE.notIn("deleting", "fenced"))
                .orderBy(INSTANCES.CREATED_AT.desc()).limit(1).asField();
        return sql.select(DATABASES.PLAN, DATABASES.MAJOR_VERSION, DATABASES.LEADER_ID, leaderNode).from(DATABASES).where(DATABASES.ID.eq(id))
                .fetchOptional(r -> new Making(r.value1(), r.value2(), r.value3() != null, r.value4()));
    }

    /** The host name clients reach node {@code name}'s servers by, if the node recorded one. */
    Optional<String> publicHost(String name) {
        return dsl.select(NODES.PUBLIC_HOST).from(NODES).where(NODES.NAME.eq(name)).fetchOptional(NODES.PUBLIC_HOST);
    }

    /** Renews {@code name}'s heartbeat with what it read of its disk (null: not readable); false when its row is gone. */
    boolean heartbeat(String name, @Nullable ThisNode.Disk disk) {
        return dsl.update(NODES).set(NODES.HEARTBEAT_AT, renewed())
                .set(NODES.DISK_FREE_MB, disk == null ? null : disk.freeMb())
                .set(NODES.DISK_USED_MB, disk == null ? null : disk.usedMb())
                .where(NODES.NAME.eq(name)).execute() == 1;
    }

    /**
     * Renews {@code name}'s heartbeat alone over {@code session}, the catalog contact's own
     * connection ({@link NodeHeartbeat}); false when its row is gone.
     */
    static boolean touch(Connection session, String name) {
        return DSL.using(session, SQLDialect.POSTGRES).update(NODES).set(NODES.HEARTBEAT_AT, renewed())
                .where(NODES.NAME.eq(name)).execute() == 1;
    }

    /**
     * The heartbeat's new time: now, unless a later one is recorded already (a beat and a contact
     * run at once, and the one that began first may commit last), so it never goes back.
     */
    private static Field<OffsetDateTime> renewed() {
        return DSL.greatest(NODES.HEARTBEAT_AT, DSL.currentOffsetDateTime());
    }

    /** How long node {@code name} has not renewed its heartbeat, by the catalog's clock; empty for an unknown node. */
    Optional<Duration> silentFor(String name) {
        return find(name).map(Row::silence);
    }

    void recordApiUrl(String name, String apiUrl) {
        dsl.update(NODES).set(NODES.API_URL, apiUrl).where(NODES.NAME.eq(name)).execute();
    }

    /** Marks {@code name} drained (or not); empty when there is no such node. A second drain keeps the first one's time. */
    Optional<Row> drain(String name, boolean drained) {
        int changed = dsl.update(NODES)
                .set(NODES.DRAINED, drained)
                .set(NODES.DRAINED_AT, drained ? DSL.coalesce(NODES.DRAINED_AT, DSL.currentOffsetDateTime()) : DSL.castNull(NODES.DRAINED_AT))
                .where(NODES.NAME.eq(name))
                .execute();
        return changed == 0 ? Optional.empty() : find(name);
    }

    /**
     * Marks {@code name} forgotten in transaction {@code tx}, if it is silent past {@code lostAfter}
     * by the catalog's clock (checked in the statement, so a node that heartbeats meanwhile is not
     * forgotten); says whether it did.
     */
    boolean forget(DSLContext tx, String name, Condition lost) {
        return tx.update(NODES).set(NODES.FORGOTTEN_AT, DSL.currentOffsetDateTime()).where(NODES.NAME.eq(name)).and(lost).execute() == 1;
    }

    Optional<Row> find(String name) {
        return find(dsl, name);
    }

    Optional<Row> find(DSLContext sql, String name) {
        return sql.select(NODES.fields()).select(NOW).from(NODES).where(NODES.NAME.eq(name))
                .fetchOptional(NodeRepository::toRow);
    }

    List<Row> all() {
        return all(dsl);
    }

    List<Row> all(DSLContext sql) {
        return sql.select(NODES.fields()).select(NOW).from(NODES).orderBy(NODES.NAME)
                .fetch(NodeRepository::toRow);
    }

    /** The node other than {@code name} whose catalog this is (embedded in its data directory), if one registered. */
    Optional<Row> embeddedOwnerOtherThan(String name) {
        return dsl.select(NODES.fields()).select(NOW).from(NODES)
                .where(NODES.EMBEDDED_CATALOG.isTrue()).and(NODES.NAME.ne(name))
                .orderBy(NODES.HEARTBEAT_AT.desc()).limit(1)
                .fetchOptional(NodeRepository::toRow);
    }

    /** The instances that nodes host, oldest first, with their databases' names. */
    List<Hosted> hosted() {
        return hosted(dsl);
    }

    List<Hosted> hosted(DSLContext sql) {
        return sql.select(INSTANCES.ID, INSTANCES.DATABASE_ID, DATABASES.NAME, DATABASES.PLAN, INSTANCES.ROLE, INSTANCES.STATE,
                        INSTANCES.MAJOR_VERSION, INSTANCES.NODE)
                .from(INSTANCES).leftJoin(DATABASES).on(DATABASES.ID.eq(INSTANCES.DATABASE_ID))
                .where(INSTANCES.NODE.isNotNull())
                .orderBy(INSTANCES.CREATED_AT)
                .fetch(r -> new Hosted(r.get(INSTANCES.ID), r.get(INSTANCES.DATABASE_ID), r.get(DATABASES.NAME), r.get(DATABASES.PLAN),
                        r.get(INSTANCES.ROLE), r.get(INSTANCES.STATE), r.get(INSTANCES.MAJOR_VERSION), r.get(INSTANCES.NODE)));
    }

    /**
     * Servers recorded for node {@code node} and not reserved yet: a database's making (its plan's
     * servers; one when it follows another), or a new standby of its ({@code standbyOnly}).
     */
    record Pending(UUID databaseId, String plan, boolean following, boolean standbyOnly, String node) {
    }

    /**
     * The servers recorded and not reserved yet, with the node each was recorded for: a database
     * whose making (a provision or restore, still running) has no server row yet, a standby
     * build (still running) with no live standby of its database on its node yet, and a follower's
     * rebuild or a primary's remake (still running) with no live server on its node yet, and work
     * of a kind a newer Keel recorded (still running) as a database's making. They count against that
     * node's room from the moment they are recorded, not only once their servers are reserved.
     */
    List<Pending> pending(DSLContext sql) {
        // The kinds' and state's values as OperationKind, OperationState, InstanceRole and InstanceState write them (operations
        // and instances depend on nodes, not back).
        Condition making = OPERATIONS.KIND.in("provision", "restore")
                .andNotExists(DSL.selectOne().from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(DATABASES.ID)));
        // A standby's build: its server, until it is made, on a node where the database has no live standby (none at all, or
        // the one a move replaces, still live beside its primary until it is removed).
        Condition standby = OPERATIONS.KIND.eq("standby").andNotExists(liveStandby().and(INSTANCES.NODE.eq(OPERATIONS.NODE)));
        // A follower's rebuild: its new server, until it is made, on a node where none of its servers lives (its old one being
        // removed there, or left on a lost node).
        Condition rebuild = OPERATIONS.KIND.eq("rebuild").andNotExists(liveServer().and(INSTANCES.NODE.eq(OPERATIONS.NODE)));
        // A primary made anew from the archive (its node forgotten): its server, until it is made there, as a database's making.
        Condition remake = OPERATIONS.KIND.eq("remake").andNotExists(liveServer().and(INSTANCES.NODE.eq(OPERATIONS.NODE)));
        // Work of a kind this version does not know, which a newer node recorded during a rolling upgrade: it may be making
        // servers, so it counts as a database's making on its node for as long as it runs.
        Condition newer = OPERATIONS.KIND.notIn(KNOWN_KINDS);
        return sql.select(DATABASES.ID, DATABASES.PLAN, DATABASES.LEADER_ID, OPERATIONS.KIND, OPERATIONS.NODE)
                .from(OPERATIONS).join(DATABASES).on(DATABASES.ID.eq(OPERATIONS.DATABASE_ID))
                .where(OPERATIONS.STATE.eq("running")).and(OPERATIONS.NODE.isNotNull())
                .and(making.or(standby).or(rebuild).or(remake).or(newer))
                .fetch(r -> new Pending(r.value1(), r.value2(), r.value3() != null, "standby".equals(r.value4()), r.value5()));
    }

    /** A server of the database of the row read that runs or is being made (not being removed, not fenced). */
    private static SelectConditionStep<Record1<Integer>> liveServer() {
        return DSL.selectOne().from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(DATABASES.ID))
                .and(INSTANCES.STATE.notIn("deleting", "fenced"));
    }

    /** A standby of the database of the row read that runs or is being made. */
    private static SelectConditionStep<Record1<Integer>> liveStandby() {
        return liveServer().and(INSTANCES.ROLE.eq("standby"));
    }

    /**
     * A database owed a hot standby: its plan has one, it follows none, its primary runs or is
     * being made on {@code primaryNode}, and it has neither a live standby nor a standby build
     * recorded (which {@link #pending} counts). The HA monitor builds one once its timeline has a
     * backup: after a provision's first, a plan change's, or a failover's.
     */
    record Owed(UUID databaseId, String plan, String primaryNode) {
    }

    /** The databases on one of {@code plans} (those with a hot standby) owed one ({@link Owed}), oldest first, read through {@code sql}. */
    List<Owed> owedStandbys(DSLContext sql, Collection<String> plans) {
        // The values as DatabaseState, InstanceRole, InstanceState, OperationKind and OperationState write them (see pending).
        // The newest live primary: a major upgrade's switch has two for a moment.
        Select<Record1<String>> newestPrimary = DSL.select(INSTANCES.NODE).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(DATABASES.ID))
                .and(INSTANCES.ROLE.eq("primary")).and(INSTANCES.STATE.in("creating", "running")).and(INSTANCES.NODE.isNotNull())
                .orderBy(INSTANCES.CREATED_AT.desc()).limit(1);
        Field<String> primaryNode = DSL.field(newestPrimary);
        if (plans.isEmpty()) {
            return List.of();
        }
        return sql.select(DATABASES.ID, DATABASES.PLAN, primaryNode).from(DATABASES)
                .where(DATABASES.PLAN.in(plans)).and(DATABASES.LEADER_ID.isNull()).and(DATABASES.STATE.in("creating", "available"))
                .and(primaryNode.isNotNull())
                .andNotExists(liveStandby())
                .andNotExists(DSL.selectOne().from(OPERATIONS).where(OPERATIONS.DATABASE_ID.eq(DATABASES.ID))
                        .and(OPERATIONS.KIND.eq("standby")).and(OPERATIONS.STATE.eq("running")).and(OPERATIONS.NODE.isNotNull()))
                .orderBy(DATABASES.CREATED_AT, DATABASES.ID)
                .fetch(r -> new Owed(r.value1(), r.value2(), r.value3()));
    }

    private static Row toRow(Record r) {
        return new Row(r.get(NODES.NAME), r.get(NODES.API_URL), r.get(NODES.VERSION), r.get(NODES.EMBEDDED_CATALOG), r.get(NODES.STARTED_AT),
                r.get(NODES.HEARTBEAT_AT), r.get(NODES.DRAINED), r.get(NODES.DRAINED_AT), r.get(NODES.PORT_FIRST), r.get(NODES.PORT_LAST),
                r.get(NODES.MEMORY_BUDGET_MB), r.get(NODES.DISK_BUDGET_MB), r.get(NODES.DISK_FREE_MB), r.get(NODES.DISK_USED_MB),
                r.get(NODES.FORGOTTEN_AT), Objects.requireNonNullElse(r.get(NODES.MIGRATION), CatalogSchema.BEFORE_RECORDED), r.get(NOW));
    }
}
