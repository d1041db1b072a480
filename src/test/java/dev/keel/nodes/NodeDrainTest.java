package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.InstanceRepository;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.operations.OperationState;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.nodes.NodesTest.assertProblem;
import static dev.keel.nodes.NodesTest.nodeNamed;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Draining the one node refuses a new database with {@code no-capacity}, naming the node and how
 * to undo it, and makes nothing; activating it lets the same provision through. On a Keel of its
 * own: while drained, its node refuses every provision, which would fail tests sharing a Keel.
 */
class NodeDrainTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        // No HA monitor round in this class's life: a standby owed stays owed, the moment before its build is recorded held open.
        keel = TestKeel.start("node-drain", Map.of("keel.instances.pool.size", 0, "keel.ha.check-interval", "6h"));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void drainRefusesANewProvisionWithNothingMadeAndActivateAllowsItAgain() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        Api team = keel.newTeam("drained");
        Api.Response drained = keel.api().post("/v1/nodes/" + name + "/drain", "");
        try {
            assertThat(drained.status()).as(drained.toString()).isEqualTo(200);
            assertThat(drained.field("state")).isEqualTo("draining");
            assertThat(nodeNamed(keel.api(), name).get("state").asText()).isEqualTo("draining");
            Instant since = OffsetDateTime.parse(drained.field("drained_at")).toInstant().truncatedTo(ChronoUnit.SECONDS);
            Api.Response again = keel.api().post("/v1/nodes/" + name + "/drain", "");
            assertThat(again.field("drained_at")).as("a second drain keeps the first one's time").isEqualTo(drained.field("drained_at"));

            int databases = catalog.fetchCount(DATABASES);
            int instances = catalog.fetchCount(INSTANCES);
            assertProblem(team.post("/v1/databases", "{\"plan\":\"essential-0\",\"name\":\"while-drained\"}"), 503, "/problems/no-capacity",
                    "Node " + name + " is draining (since " + since + "), so Keel places no new instance on it, and no other node is active"
                            + " to take one; undo it with POST /v1/nodes/" + name + "/activate, or start another node, then try again."
                            + " Nothing was created.");
            assertThat(catalog.fetchCount(DATABASES)).isEqualTo(databases);
            assertThat(catalog.fetchCount(INSTANCES)).isEqualTo(instances);
        } finally {
            Api.Response activated = keel.api().post("/v1/nodes/" + name + "/activate", "");
            assertThat(activated.status()).as(activated.toString()).isEqualTo(200);
            assertThat(activated.field("state")).isEqualTo("active");
            assertThat(activated.json().hasNonNull("drained_at")).isFalse();
        }

        JsonNode database = team.provision("{\"plan\":\"essential-0\",\"name\":\"while-drained\"}");
        try {
            assertThat(database.get("instances").get(0).get("node").asText()).isEqualTo(name);
        } finally {
            team.deprovision(database.get("id").asText());
        }
    }

    /**
     * A node whose instances would pass its memory budget, or whose disk holds its disk budget
     * already, places nothing, saying what runs short and how to make room; nothing is made.
     * The budgets are changed in the node's catalog row (what placement reads; a start writes them).
     */
    @Test
    void aNodeOverItsMemoryOrDiskBudgetRefusesANewDatabaseSayingWhatRunsShort() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        Api team = keel.newTeam("budgets");
        long essential = keel.bean(PlanFootprint.class).memoryMb("essential-0");
        long premium = keel.bean(PlanFootprint.class).memoryMb("premium-0");
        JsonNode first = team.provision("{\"plan\":\"essential-0\"}");
        Long budget = memoryBudgetMb(catalog, name);
        Long diskBudget = catalog.select(NODES.DISK_BUDGET_MB).from(NODES).where(NODES.NAME.eq(name)).fetchOne(NODES.DISK_BUDGET_MB);
        try {
            // Room for one more essential server, not for a premium database's two (a budget of 0, the default, is none).
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, 2 * essential).where(NODES.NAME.eq(name)).execute();
            int databases = catalog.fetchCount(DATABASES);
            int instances = catalog.fetchCount(INSTANCES);
            assertProblem(team.post("/v1/databases", "{\"plan\":\"premium-0\"}"), 503, "/problems/no-capacity",
                    "No node has room for a new database on plan premium-0 (node " + name + ": its servers count for " + essential
                            + " MB of its " + 2 * essential + " MB memory budget (KEEL_NODE_MEMORY_BUDGET_MB), and the new database (plan"
                            + " premium-0) needs " + 2 * premium + " MB more). Delete unused databases, give the setting named more room (a"
                            + " node reads its budgets when it starts), or start another node, then try again. Nothing was created.");
            assertThat(catalog.fetchCount(DATABASES)).isEqualTo(databases);
            assertThat(catalog.fetchCount(INSTANCES)).isEqualTo(instances);

            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).set(NODES.DISK_BUDGET_MB, 1L).where(NODES.NAME.eq(name)).execute();
            Api.Response full = team.post("/v1/databases", "{\"plan\":\"essential-0\"}");
            assertThat(full.status()).as(full.toString()).isEqualTo(503);
            assertThat(full.field("detail")).startsWith("No node has room for a new database on plan essential-0 (node " + name
                    + ": its disk has ").contains(" MB used, its whole 1 MB disk budget (KEEL_NODE_DISK_BUDGET_MB))").endsWith("Nothing was created.");
            assertThat(catalog.fetchCount(DATABASES)).isEqualTo(databases);
        } finally {
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).set(NODES.DISK_BUDGET_MB, diskBudget).where(NODES.NAME.eq(name)).execute();
        }
        JsonNode second = team.provision("{\"plan\":\"essential-0\"}");
        team.deprovision(second.get("id").asText());
        team.deprovision(first.get("id").asText());
    }

    /**
     * A node with room for one more server, asked by several requests at once, takes exactly one
     * of them: the choice and the record are one transaction under the placement lock, and a
     * database recorded, not yet made, counts against its node. Before, every request read the
     * same room (the servers are reserved only once the provision runs) and each was accepted.
     */
    @Test
    void requestsAtOnceNeverTakeANodesLastRoomTwice() throws Exception {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        PlanFootprint footprint = keel.bean(PlanFootprint.class);
        Api team = keel.newTeam("last-room");
        Long budget = memoryBudgetMb(catalog, name);
        long reserved = reservedMb(catalog, name, footprint);
        List<Api.Response> answers = new ArrayList<>();
        ExecutorService requests = Executors.newFixedThreadPool(4);
        try {
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reserved + footprint.memoryMb("essential-0")).where(NODES.NAME.eq(name)).execute();
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Api.Response>> sent = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                sent.add(requests.submit(() -> {
                    go.await();
                    return team.post("/v1/databases", "{\"plan\":\"essential-0\"}");
                }));
            }
            go.countDown();
            for (Future<Api.Response> answer : sent) {
                answers.add(answer.get(2, TimeUnit.MINUTES));
            }
        } finally {
            requests.shutdownNow();
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).where(NODES.NAME.eq(name)).execute();
            for (Api.Response answer : answers) {
                if (answer.status() == 202) {
                    team.awaitSettled(answer.field("id"));
                    team.deprovision(answer.field("id"));
                }
            }
        }
        assertThat(answers).as(answers.toString()).filteredOn(answer -> answer.status() == 202).hasSize(1);
        assertThat(answers).as(answers.toString()).filteredOn(answer -> answer.status() == 503)
                .allSatisfy(answer -> assertThat(answer.field("type")).endsWith("/problems/no-capacity")).hasSize(3);
    }

    /**
     * A hot standby's build recorded for a node, its server not reserved yet, holds its room there,
     * as a new database recorded there does: the HA monitor chooses the node and records the build
     * in one transaction under the placement lock, and a new database asked for before the build
     * reserves its server does not take that room. The build is recorded here as the monitor
     * records it, for an essential database (the monitor leaves its operations alone), and is
     * never run: the moment between record and reservation, held open.
     */
    @Test
    void aStandbyRecordedAndNotYetReservedHoldsItsRoom() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        PlanFootprint footprint = keel.bean(PlanFootprint.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        Api team = keel.newTeam("standby-room");
        JsonNode first = team.provision("{\"plan\":\"essential-0\"}");
        UUID database = UUID.fromString(first.get("id").asText());
        UUID teamId = teamOf(catalog, database);
        Long budget = memoryBudgetMb(catalog, name);
        UUID building = null;
        try {
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reservedMb(catalog, name, footprint) + footprint.memoryMb("essential-0"))
                    .where(NODES.NAME.eq(name)).execute();
            building = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, database, OperationKind.STANDBY,
                    "building the standby", 1, name)).id();
            Api.Response refused = team.post("/v1/databases", "{\"plan\":\"essential-0\"}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
            assertThat(refused.field("type")).endsWith("/problems/no-capacity");
            assertThat(refused.field("detail")).contains("memory budget (KEEL_NODE_MEMORY_BUDGET_MB)");

            // Once the build ends without a server, its room is free again.
            operations.fail(building, "ended by the test: it stood for a build between its record and its reservation");
            building = null;
            JsonNode second = team.provision("{\"plan\":\"essential-0\"}");
            team.deprovision(second.get("id").asText());
        } finally {
            if (building != null) {
                operations.fail(building, "ended by the test");
            }
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).where(NODES.NAME.eq(name)).execute();
            // Also when it failed: the class's budget tests count what this node reserves.
            team.deprovision(first.get("id").asText());
        }
    }

    /**
     * A standby's build holds no lease, but starts only once no other actor holds its database's:
     * the HA monitor records a replacement's build before it removes the old standby (whose slot
     * drop would take the new one's). Here the test holds the lease (this class's monitor never
     * runs a round, so the premium database's standby stays owed), and the build waits for it.
     */
    @Test
    void aStandbyBuildWaitsForTheLeaseAnotherActorHolds() throws Exception {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        InstanceRepository instances = keel.bean(InstanceRepository.class);
        Api team = keel.newTeam("standby-turn");
        JsonNode premium = team.provision("{\"plan\":\"premium-0\"}");
        UUID database = UUID.fromString(premium.get("id").asText());
        UUID teamId = teamOf(catalog, database);
        try {
            ArchiveWaits.awaitInitialBackup(team, database.toString());
            assertThat(instances.standby(database)).as("the monitor built no standby").isEmpty();
            Operation building;
            try (DatabaseLeases.Lease held = keel.bean(DatabaseLeases.class).tryAcquire(database, "the test").orElseThrow()) {
                building = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, database, OperationKind.STANDBY,
                        "building the standby", 1, name));
                keel.bean(OperationRunner.class).submit(building);
                Thread.sleep(3000);
                assertThat(operations.find(teamId, building.id()).orElseThrow().state()).isEqualTo(OperationState.RUNNING);
                assertThat(instances.forDatabase(database)).as("nothing built while another actor holds the lease").hasSize(1);
            }
            NodeWork.awaitSucceeded(team, building.id().toString());
            assertThat(instances.standby(database)).as("built once the lease was free").isPresent();
        } finally {
            team.deprovision(database.toString());
        }
    }

    /**
     * A follower's rebuild counts on the node it was recorded for until a live server of the
     * database is there: one made anew on another node (its own lost) holds that node's room from
     * its record on; one in place counts as the server it already has there.
     */
    @Test
    void aRebuildRecordedForANodeWithoutTheDatabasesServerHoldsItsRoom() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        NodeRepository nodes = keel.bean(NodeRepository.class);
        Api team = keel.newTeam("rebuild-room");
        UUID database = UUID.fromString(team.provision("{\"plan\":\"essential-0\"}").get("id").asText());
        UUID teamId = teamOf(catalog, database);
        List<UUID> recorded = new ArrayList<>();
        try {
            recorded.add(catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, database, OperationKind.REBUILD,
                    "made anew elsewhere", 3, "rebuild-room-elsewhere")).id());
            recorded.add(catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, database, OperationKind.REBUILD,
                    "rebuilt in place", 3, name)).id());
            assertThat(nodes.pending(catalog).stream().filter(p -> p.databaseId().equals(database)).toList())
                    .containsExactly(new NodeRepository.Pending(database, "essential-0", false, false, "rebuild-room-elsewhere"));

            // Work of a kind a newer Keel recorded (a rolling upgrade) counts as a making of the database on its node while it
            // runs: it may be making servers, which this version cannot tell.
            UUID newer = UUID.randomUUID();
            catalog.insertInto(OPERATIONS).set(OPERATIONS.ID, newer).set(OPERATIONS.TEAM_ID, teamId).set(OPERATIONS.DATABASE_ID, database)
                    .set(OPERATIONS.KIND, "kind-of-a-newer-keel").set(OPERATIONS.STATE, "running").set(OPERATIONS.PROGRESS_TOTAL, 1L)
                    .set(OPERATIONS.RECORDED_BY, "newer-node").set(OPERATIONS.NODE, "newer-room").execute();
            recorded.add(newer);
            assertThat(nodes.pending(catalog).stream().filter(p -> p.databaseId().equals(database) && p.node().equals("newer-room")).toList())
                    .containsExactly(new NodeRepository.Pending(database, "essential-0", false, false, "newer-room"));
            assertThat(NodeRepository.KNOWN_KINDS).as("the kinds NodeRepository knows are OperationKind's")
                    .containsExactlyInAnyOrderElementsOf(OperationKind.known());
        } finally {
            recorded.forEach(id -> operations.fail(id, "ended by the test"));
            team.deprovision(database.toString());
        }
    }

    /**
     * A database owed a hot standby holds its room from the moment it is owed, not only once the
     * HA monitor records the build: here a plan change to premium, with no monitor round to build
     * the standby. A new database that would take that room is refused; one more standby's worth
     * of budget lets it through.
     */
    @Test
    void aStandbyOwedAndNotYetRecordedHoldsItsRoom() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        PlanFootprint footprint = keel.bean(PlanFootprint.class);
        Api team = keel.newTeam("owed-standby");
        String id = team.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        Long budget = memoryBudgetMb(catalog, name);
        long standby = footprint.memoryMb("premium-0");
        long essential = footprint.memoryMb("essential-0");
        try {
            Api.Response accepted = team.patch("/v1/databases/" + id, "{\"plan\":\"premium-0\"}");
            assertThat(accepted.status()).as(accepted.toString()).isEqualTo(202);
            NodeWork.awaitSucceeded(team, accepted.json().get("progress").get("operation_id").asText());
            assertThat(catalog.fetchCount(INSTANCES, INSTANCES.DATABASE_ID.eq(UUID.fromString(id)))).as("no standby was built").isEqualTo(1);

            long reserved = reservedMb(catalog, name, footprint);
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reserved + standby).where(NODES.NAME.eq(name)).execute();
            Api.Response refused = team.post("/v1/databases", "{\"plan\":\"essential-0\"}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
            assertThat(refused.field("type")).endsWith("/problems/no-capacity");
            assertThat(refused.field("detail")).contains("its servers count for " + (reserved + standby) + " MB of its " + (reserved + standby)
                    + " MB memory budget (KEEL_NODE_MEMORY_BUDGET_MB)");

            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reserved + standby + essential).where(NODES.NAME.eq(name)).execute();
            JsonNode second = team.provision("{\"plan\":\"essential-0\"}");
            team.deprovision(second.get("id").asText());
        } finally {
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).where(NODES.NAME.eq(name)).execute();
            team.deprovision(id);
        }
    }

    /**
     * A plan change counts against the node of the database's servers from the moment it is
     * accepted, as a new database does: a larger plan the node has no memory budget left for is
     * refused, saying so, with the plan unchanged; a plan that adds a hot standby needs a node with
     * room for it. The same change goes through once the node has room.
     */
    @Test
    void aLargerPlanNeedsRoomOnItsServersNode() {
        String name = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        PlanFootprint footprint = keel.bean(PlanFootprint.class);
        Api team = keel.newTeam("plan-room");
        String id = team.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        Long budget = memoryBudgetMb(catalog, name);
        long more = footprint.memoryMb("standard-0") - footprint.memoryMb("essential-0");
        try {
            long reserved = reservedMb(catalog, name, footprint);
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reserved + more - 1).where(NODES.NAME.eq(name)).execute();
            Api.Response refused = team.patch("/v1/databases/" + id, "{\"plan\":\"standard-0\"}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
            assertThat(refused.field("type")).endsWith("/problems/no-capacity");
            assertThat(refused.field("detail")).isEqualTo("Node " + name + ", which runs this database's servers, has no room for plan"
                    + " standard-0: its servers count for " + reserved + " MB of its " + (reserved + more - 1) + " MB memory budget"
                    + " (KEEL_NODE_MEMORY_BUDGET_MB), and the plan needs " + more + " MB more there. Delete unused databases on it or"
                    + " give it more room (a node reads its budgets when it starts), then try again. The plan is unchanged.");
            assertThat(team.get("/v1/databases/" + id).field("plan")).isEqualTo("essential-0");

            // Premium's standby needs a node with room too: this one, the only one, has room for the larger primary only.
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, reserved + more).where(NODES.NAME.eq(name)).execute();
            Api.Response noStandby = team.patch("/v1/databases/" + id, "{\"plan\":\"premium-0\"}");
            assertThat(noStandby.status()).as(noStandby.toString()).isEqualTo(503);
            assertThat(noStandby.field("detail")).startsWith("No node has room for the hot standby plan premium-0 adds (node " + name
                    + ": its servers count for " + (reserved + more) + " MB of its " + (reserved + more) + " MB memory budget")
                    .endsWith("The plan is unchanged.");
            assertThat(team.get("/v1/databases/" + id).field("plan")).isEqualTo("essential-0");

            Api.Response accepted = team.patch("/v1/databases/" + id, "{\"plan\":\"standard-0\"}");
            assertThat(accepted.status()).as(accepted.toString()).isEqualTo(202);
            // Asked again meanwhile, for a plan there is no room for: told of the change under way, not of the room.
            Api.Response second = team.patch("/v1/databases/" + id, "{\"plan\":\"premium-0\"}");
            assertThat(second.status()).as(second.toString()).isEqualTo(409);
            assertThat(second.field("type")).endsWith("/problems/already-queued");
            NodeWork.awaitSucceeded(team, accepted.json().get("progress").get("operation_id").asText());
        } finally {
            catalog.update(NODES).set(NODES.MEMORY_BUDGET_MB, budget).where(NODES.NAME.eq(name)).execute();
            team.deprovision(id);
        }
    }

    /** Node {@code name}'s memory budget as its catalog row holds it (what placement reads; each test sets it back). */
    private static Long memoryBudgetMb(DSLContext catalog, String name) {
        return catalog.select(NODES.MEMORY_BUDGET_MB).from(NODES).where(NODES.NAME.eq(name)).fetchOne(NODES.MEMORY_BUDGET_MB);
    }

    /** The memory node {@code name}'s reserved servers count for now (its warm instances included). */
    private static UUID teamOf(DSLContext catalog, UUID database) {
        return catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(database)).fetchSingle(DATABASES.TEAM_ID);
    }

    private static long reservedMb(DSLContext catalog, String name, PlanFootprint footprint) {
        return Placement.reservedMb(catalog.select(INSTANCES.ID, INSTANCES.DATABASE_ID, DATABASES.NAME, DATABASES.PLAN,
                        INSTANCES.ROLE, INSTANCES.STATE, INSTANCES.MAJOR_VERSION, INSTANCES.NODE)
                .from(INSTANCES).leftJoin(DATABASES).on(DATABASES.ID.eq(INSTANCES.DATABASE_ID)).where(INSTANCES.NODE.eq(name))
                .fetch(r -> new NodeRepository.Hosted(r.value1(), r.value2(), r.value3(), r.value4(), r.value5(), r.value6(), r.value7(),
                        r.value8())), footprint);
    }
}
