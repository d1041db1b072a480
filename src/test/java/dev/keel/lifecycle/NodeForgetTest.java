package dev.keel.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.DatabaseLeases;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.sql.Connection;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.BACKUPS;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Forgetting a lost node ({@code POST /v1/nodes/{name}/forget}). The lost node is a row of the
 * registry that no Keel runs ({@link SilentNodes}); a database's primary is handed to it in the
 * catalog and its postmaster killed, as if its host had gone with it. On a Keel of its own: the
 * silent node and its forgetting would show in other classes' node listings.
 */
class NodeForgetTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("node-forget", Map.of("keel.instances.pool.size", 0));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void onlyTheAdminForgetsOnlyALostNodeOtherThanItselfAndOnlyWhenTheRequestNamesIt() {
        String self = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        String silent = SilentNodes.add(catalog, "forget-refused");
        try {
            String confirm = "{\"confirm\":\"" + silent + "\"}";
            assertProblem(keel.newTeam("not-admin").post("/v1/nodes/" + silent + "/forget", confirm), 403, "/problems/forbidden");
            assertProblem(keel.api().post("/v1/nodes/no-such-node/forget", "{\"confirm\":\"no-such-node\"}"), 404, "/problems/not-found");
            Api.Response unconfirmed = keel.api().post("/v1/nodes/" + silent + "/forget", "{}");
            assertProblem(unconfirmed, 422, "/problems/invalid-request");
            assertThat(unconfirmed.field("detail")).contains("To confirm, send {\"confirm\":\"" + silent + "\"}.");
            assertProblem(keel.api().post("/v1/nodes/" + silent + "/forget", "{\"confirm\":\"" + self + "\"}"), 422,
                    "/problems/invalid-request");
            assertProblem(keel.api().post("/v1/nodes/" + self + "/forget", "{\"confirm\":\"" + self + "\"}"), 409, "/problems/conflict");

            // A node that heartbeats is not lost: forgetting it would split its databases in two.
            catalog.update(NODES).set(NODES.HEARTBEAT_AT, OffsetDateTime.now()).where(NODES.NAME.eq(silent)).execute();
            Api.Response alive = keel.api().post("/v1/nodes/" + silent + "/forget", confirm);
            assertProblem(alive, 409, "/problems/node-not-lost");
            assertThat(alive.field("detail")).contains("Stop its Keel and its Postgres servers");
            assertThat(catalog.select(NODES.FORGOTTEN_AT).from(NODES).where(NODES.NAME.eq(silent)).fetchOne(NODES.FORGOTTEN_AT)).isNull();
        } finally {
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
        }
    }

    /**
     * A standard database whose primary was on the lost node is made anew on this one from its own
     * archive, with every write its WAL receiver had stored, under its own name and credentials; the
     * old server's row goes, the work the lost node held for it is ended, and its removals of retired
     * servers stay for it to run should it return.
     */
    @Test
    void aStandardDatabaseWhoseNodeIsForgottenIsMadeAnewFromItsOwnArchiveWithItsCredentials() throws Exception {
        String self = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        Api team = keel.newTeam("forgotten");
        JsonNode database = team.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        String url = database.get("url").asText();
        UUID lost = UUID.fromString(database.get("instances").get(0).get("id").asText());
        String silent = SilentNodes.add(catalog, "forgotten");
        try {
            writeAndAwaitStored(team, id, url);

            // The lost node had a plan change and a backup under way for it, and a retired server to remove.
            OperationRepository operations = keel.bean(OperationRepository.class);
            UUID databaseId = UUID.fromString(id);
            UUID teamId = catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(databaseId)).fetchOne(DATABASES.TEAM_ID);
            Operation held = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, databaseId,
                    OperationKind.PLAN_CHANGE, "changing the plan", 3, silent));
            Operation backup = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, databaseId,
                    OperationKind.BACKUP, "taking a base backup", 1, silent));
            UUID backupId = UUID.randomUUID();
            catalog.insertInto(BACKUPS).set(BACKUPS.ID, backupId).set(BACKUPS.DATABASE_ID, databaseId).set(BACKUPS.OPERATION_ID, backup.id())
                    .set(BACKUPS.KIND, "manual").set(BACKUPS.STATE, "running").execute();
            catalog.update(OPERATIONS).set(OPERATIONS.STARTED_AT, OffsetDateTime.now()).where(OPERATIONS.ID.in(held.id(), backup.id()))
                    .execute();
            Operation discard = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId,
                    databaseId, OperationKind.DISCARD, "removing a retired server", 1, silent));

            // The silent node's Keel is gone, its Postgres not: forgetting it would split the database in two, so nothing is done.
            catalog.update(INSTANCES).set(INSTANCES.NODE, silent).where(INSTANCES.ID.eq(lost)).execute();
            JsonNode serving = forget(silent);
            JsonNode waiting = serving.get("databases").get(0);
            assertThat(waiting.get("action").asText()).isEqualTo("waiting");
            assertThat(waiting.get("detail").asText()).contains("still accepts connections").contains("stop it");
            assertThat(team.get("/v1/databases/" + id).json().get("instances").get(0).get("state").asText()).isEqualTo("running");
            assertThat(catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(held.id())).fetchOne(OPERATIONS.STATE))
                    .isEqualTo("running");

            // Its host is gone: its postmaster is killed.
            kill(lost, url);

            // Another change to the database holds its lease (a deletion, say): it goes first, and nothing is changed meanwhile.
            try (DatabaseLeases.Lease change = keel.bean(DatabaseLeases.class).tryAcquire(databaseId, "a test's change").orElseThrow()) {
                JsonNode busy = onlyDatabase(forget(silent));
                assertThat(busy.get("action").asText()).isEqualTo("waiting");
                assertThat(busy.get("detail").asText()).contains("Another change to it is under way (" + change.holder() + ")")
                        .contains("Forget node " + silent + " again");
                assertThat(catalog.select(INSTANCES.STATE).from(INSTANCES).where(INSTANCES.ID.eq(lost)).fetchOne(INSTANCES.STATE))
                        .as("not fenced").isEqualTo("running");
                assertThat(catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(held.id())).fetchOne(OPERATIONS.STATE))
                        .as("the lost node's work is not ended").isEqualTo("running");
            }

            JsonNode forgotten = forget(silent);
            assertThat(forgotten.get("node").get("state").asText()).isEqualTo("forgotten");
            assertThat(forgotten.get("node").hasNonNull("forgotten_at")).isTrue();
            JsonNode affected = onlyDatabase(forgotten);
            assertThat(affected.get("id").asText()).isEqualTo(id);
            assertThat(affected.get("action").asText()).isEqualTo("remake");
            assertThat(affected.get("node").asText()).isEqualTo(self);
            String remake = affected.get("operation_id").asText();
            awaitSucceeded(team, remake);

            JsonNode remade = team.get("/v1/databases/" + id).json();
            assertThat(remade.get("state").asText()).isEqualTo("available");
            assertThat(remade.get("instances")).as("the lost server's row is gone").hasSize(1);
            assertThat(remade.get("instances").get(0).get("node").asText()).isEqualTo(self);
            assertThat(remade.get("instances").get(0).get("state").asText()).isEqualTo("running");
            String newUrl = remade.get("url").asText();
            assertThat(Pg.user(newUrl)).isEqualTo(Pg.user(url));
            assertThat(newUrl.replaceFirst(":\\d+/", ":port/")).as("the same credentials, another port")
                    .isEqualTo(url.replaceFirst(":\\d+/", ":port/"));
            try (Connection connection = Pg.connect(newUrl, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
                assertThat(Pg.scalar(connection, "select pg_is_in_recovery()::text")).isEqualTo("false");
                assertThat(Pg.scalar(connection, "select timeline_id > 1 from pg_control_checkpoint()")).as("a new timeline").isEqualTo("t");
                connection.createStatement().execute("insert into kept values (1001)");
            }
            String ended = catalog.select(OPERATIONS.STATE, OPERATIONS.ERROR).from(OPERATIONS).where(OPERATIONS.ID.eq(held.id())).fetchOne()
                    .map(r -> r.get(OPERATIONS.STATE) + ": " + r.get(OPERATIONS.ERROR));
            assertThat(ended).startsWith("failed: Node " + silent + " was forgotten");
            assertThat(catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(discard.id())).fetchOne(OPERATIONS.STATE))
                    .as("a removal the lost node runs should it return").isEqualTo("running");
            assertThat(catalog.select(BACKUPS.STATE).from(BACKUPS).where(BACKUPS.ID.eq(backupId)).fetchOne(BACKUPS.STATE))
                    .as("the lost node's backup, ended with its operation").isEqualTo("failed");
            Wait.until("a base backup of the new timeline", Timeouts.PROVISION, () -> {
                for (JsonNode taken : team.get("/v1/databases/" + id + "/backups").json()) {
                    if ("completed".equals(taken.get("state").asText()) && taken.path("timeline").asInt() > 1) {
                        return true;
                    }
                }
                return false;
            });

            // Asked again: nothing of it is left on the forgotten node.
            JsonNode again = forget(silent);
            assertThat(again.get("databases")).isEmpty();
        } finally {
            cleanUp(catalog, team, id, silent);
        }
    }

    /**
     * A remake given to a node that stopped before it began (no server of it yet): forgetting that
     * node ends it and gives the remake to a node that runs.
     */
    @Test
    void aRemakeANodeHadNotBegunWhenItWasForgottenIsGivenToAnother() throws Exception {
        String self = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        Api team = keel.newTeam("remake-lost");
        JsonNode database = team.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        String url = database.get("url").asText();
        UUID databaseId = UUID.fromString(id);
        UUID lost = UUID.fromString(database.get("instances").get(0).get("id").asText());
        String first = SilentNodes.add(catalog, "forgotten-first");
        String second = SilentNodes.add(catalog, "forgotten-second");
        try {
            writeAndAwaitStored(team, id, url);
            // The first node was forgotten (its primary fenced), and the remake given to the second, which then stopped too.
            catalog.update(INSTANCES).set(INSTANCES.NODE, first).set(INSTANCES.STATE, "fenced").where(INSTANCES.ID.eq(lost)).execute();
            kill(lost, url);
            OperationRepository operations = keel.bean(OperationRepository.class);
            UUID teamId = catalog.select(DATABASES.TEAM_ID).from(DATABASES).where(DATABASES.ID.eq(databaseId)).fetchOne(DATABASES.TEAM_ID);
            Operation stale = catalog.transactionResult(tx -> operations.create(tx.dsl(), teamId, databaseId, OperationKind.REMAKE,
                    "making the primary anew from the archive", 5, second));

            JsonNode forgotten = forget(second);
            JsonNode affected = onlyDatabase(forgotten);
            assertThat(affected.get("action").asText() + " " + affected.get("node").asText()).isEqualTo("remake " + self);
            assertThat(affected.get("operation_id").asText()).isNotEqualTo(stale.id().toString());
            assertThat(catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(stale.id())).fetchOne(OPERATIONS.STATE))
                    .isEqualTo("failed");
            String remake = affected.get("operation_id").asText();
            awaitSucceeded(team, remake);
            try (Connection connection = Pg.connect(team.get("/v1/databases/" + id).field("url"), keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
            }
        } finally {
            cleanUp(catalog, team, id, first, second);
        }
    }

    /**
     * A premium database whose primary and standby were both on the lost node (built while it was
     * the only one): no standby is left to fail over to, so the primary is made anew here from the
     * archive, and the HA monitor then replaces the standby gone with its host by one built here.
     */
    @Test
    void aPremiumDatabaseWhoseStandbyWasLostWithItsPrimaryIsMadeAnewAndGetsANewStandby() throws Exception {
        String self = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        Api team = keel.newTeam("forgotten-premium");
        JsonNode database = team.provision("{\"plan\":\"premium-0\"}");
        String id = database.get("id").asText();
        String url = database.get("url").asText();
        UUID databaseId = UUID.fromString(id);
        String silent = SilentNodes.add(catalog, "forgotten-premium");
        try {
            Wait.until("HA status of " + id + " to be Available", Timeouts.HA_STANDBY,
                    () -> "Available".equals(team.get("/v1/databases/" + id + "/ha").field("status")));
            writeAndAwaitStored(team, id, url);
            UUID primary = UUID.fromString(database.get("instances").get(0).get("id").asText());
            UUID standby = catalog.select(INSTANCES.ID).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId))
                    .and(INSTANCES.ROLE.eq("standby")).fetchSingle(INSTANCES.ID);
            // Both servers were on the node whose host is gone.
            catalog.update(INSTANCES).set(INSTANCES.NODE, silent).where(INSTANCES.ID.in(primary, standby)).execute();
            String standbyUrl = url.replaceFirst(":\\d+/", ":" + catalog.select(INSTANCES.PORT).from(INSTANCES)
                    .where(INSTANCES.ID.eq(standby)).fetchSingle(INSTANCES.PORT) + "/");
            kill(standby, standbyUrl);
            kill(primary, url);

            JsonNode forgotten = forget(silent);
            JsonNode affected = onlyDatabase(forgotten);
            assertThat(affected.get("action").asText() + " " + affected.get("node").asText()).as(affected.toString())
                    .isEqualTo("remake " + self);
            awaitSucceeded(team, affected.get("operation_id").asText());

            // The standby that went with the host is replaced by one built here, streaming from the new primary.
            Wait.until("a new standby of " + id + " on " + self + " and HA Available", Timeouts.HA_STANDBY, () -> {
                JsonNode seen = team.get("/v1/databases/" + id).json();
                boolean rebuilt = false;
                for (JsonNode server : seen.get("instances")) {
                    assertThat(server.get("id").asText()).as("the lost primary's row is gone").isNotEqualTo(primary.toString());
                    rebuilt |= "standby".equals(server.get("role").asText()) && self.equals(server.get("node").asText())
                            && "running".equals(server.get("state").asText());
                }
                return rebuilt && "Available".equals(team.get("/v1/databases/" + id + "/ha").field("status"));
            });
            // Commits wait for it again (synchronous_standby_names names it): a write acknowledged now was flushed by it too.
            Wait.until("commits of " + id + " to wait for the new standby", Timeouts.HA_STANDBY,
                    () -> team.get("/v1/databases/" + id + "/ha").json().path("synchronous").asBoolean(false));
            try (Connection connection = Pg.connect(team.get("/v1/databases/" + id).field("url"), keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
                connection.createStatement().execute("insert into kept values (1001)");
                assertThat(Pg.scalar(connection, "select current_setting('synchronous_standby_names') <> ''")).isEqualTo("t");
            }
        } finally {
            cleanUp(catalog, team, id, silent);
        }
    }

    /**
     * A remake that failed once Postgres had promoted its server (its finishing steps could not
     * run) left the database a promoted primary still being made: forgetting the node again runs
     * the remake once more on the server's node, which keeps the server, gives it its own
     * superuser password and makes it the primary, rather than leave the database without one.
     */
    @Test
    void aRemakeThatFailedAfterItsServerWasPromotedIsFinishedWhenTheNodeIsForgottenAgain() throws Exception {
        String self = keel.bean(ThisNode.class).name();
        DSLContext catalog = keel.bean(DSLContext.class);
        InstanceRepository instances = keel.bean(InstanceRepository.class);
        Api team = keel.newTeam("remake-unfinished");
        JsonNode database = team.provision("{\"plan\":\"standard-0\"}");
        String id = database.get("id").asText();
        UUID databaseId = UUID.fromString(id);
        Instance made = instances.primary(databaseId).orElseThrow();
        String silent = SilentNodes.add(catalog, "forgotten-unfinished");
        try {
            try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile())) {
                connection.createStatement().execute("create table kept as select generate_series(1, 1000) n");
            }
            // The state the failed remake left: the lost primary fenced on the forgotten node (a row: its port takes nothing), and
            // this database's server, restored from its archive with the lost one's superuser password and promoted, still being made.
            int closed;
            try (ServerSocket free = new ServerSocket(0)) {
                closed = free.getLocalPort();
            }
            String password = instances.superuserPassword(made);
            Instance lost = instances.reserve(databaseId, InstanceRole.PRIMARY, made.major(), made.host(), password);
            catalog.update(INSTANCES).set(INSTANCES.NODE, silent).set(INSTANCES.STATE, "fenced").set(INSTANCES.PORT, closed)
                    .where(INSTANCES.ID.eq(lost.id())).execute();
            catalog.update(INSTANCES).set(INSTANCES.STATE, "creating").where(INSTANCES.ID.eq(made.id())).execute();

            JsonNode forgotten = forget(silent);
            JsonNode affected = onlyDatabase(forgotten);
            assertThat(affected.get("action").asText() + " " + affected.get("node").asText()).isEqualTo("remake " + self);
            awaitSucceeded(team, affected.get("operation_id").asText());

            JsonNode finished = team.get("/v1/databases/" + id).json();
            assertThat(finished.get("instances")).as(finished.toString()).hasSize(1);
            assertThat(finished.get("instances").get(0).get("id").asText()).as("the promoted server, kept").isEqualTo(made.id().toString());
            assertThat(finished.get("instances").get(0).get("state").asText()).isEqualTo("running");
            assertThat(instances.superuserPassword(made)).as("its own superuser password").isNotEqualTo(password);
            try (Connection connection = Pg.connect(finished.get("url").asText(), keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
            }
        } finally {
            cleanUp(catalog, team, id, silent);
        }
    }

    /** Forgets node {@code name}, confirmed, as the admin; the answer of its {@code 200}. */
    private static JsonNode forget(String name) {
        Api.Response forgotten = keel.api().post("/v1/nodes/" + name + "/forget", "{\"confirm\":\"" + name + "\"}");
        assertThat(forgotten.status()).as(forgotten.toString()).isEqualTo(200);
        return forgotten.json();
    }

    /** The one database a forgetting's answer {@code forgotten} lists. */
    private static JsonNode onlyDatabase(JsonNode forgotten) {
        assertThat(forgotten.get("databases")).as(forgotten.toString()).hasSize(1);
        return forgotten.get("databases").get(0);
    }

    /** Removes what a test left: the work recorded for the silent nodes {@code silent}, database {@code id}, and the nodes' rows. */
    private static void cleanUp(DSLContext catalog, Api team, String id, String... silent) {
        catalog.deleteFrom(OPERATIONS).where(OPERATIONS.NODE.in(silent)).execute();
        team.deprovision(id);
        catalog.deleteFrom(NODES).where(NODES.NAME.in(silent)).execute();
    }

    private static void awaitSucceeded(Api team, String operation) {
        Wait.until("operation " + operation + " to succeed", Timeouts.RESTORE, () -> {
            JsonNode seen = team.get("/v1/operations/" + operation).json();
            assertThat(seen.get("state").asText()).as(seen.toString()).isIn("running", "succeeded");
            return seen.get("state").asText().equals("succeeded");
        });
    }

    /** Writes 1,000 rows to table {@code kept} and waits until the database's WAL receiver has stored them. */
    private static void writeAndAwaitStored(Api team, String id, String url) throws Exception {
        ArchiveWaits.awaitInitialBackup(team, id);
        String written;
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            connection.createStatement().execute("create table kept as select generate_series(1, 1000) n");
            written = Pg.scalar(connection, "select pg_current_wal_lsn()");
        }
        ArchiveWaits.awaitStreamed(team, id, written);
    }

    /** Kills server {@code instance}'s postmaster, as its host's loss would, and waits until its port, in {@code url}, refuses. */
    private static void kill(UUID instance, String url) throws IOException {
        Footprint.killServer(keel.instanceDataDir(instance), url);
    }

    private static void assertProblem(Api.Response response, int status, String type) {
        assertThat(response.status()).as(response.toString()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.field("type")).isEqualTo(type);
    }
}
