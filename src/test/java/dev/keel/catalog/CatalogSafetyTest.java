package dev.keel.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.instances.InstanceSweep;
import dev.keel.nodes.NodeHeartbeat;
import dev.keel.nodes.ThisNode;
import dev.keel.testing.LogCapture;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import io.micronaut.context.ApplicationContext;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Keel refuses to start rather than pair a data directory with a catalog that does not know its
 * databases, or initialise a catalog over an existing one, or run as a second node, or join a node's
 * embedded catalog; and each refusal changes nothing: the database still serves afterwards.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(6)
class CatalogSafetyTest {
    private static TestKeel keel;
    private static JsonNode database;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("catalog-safety", Map.of("keel.instances.pool.size", 0, "keel.catalog.node-lock-wait", "1s",
                "keel.instances.sweep-interval", "1s"));
        database = keel.api().provision("{\"plan\":\"essential-0\"}");
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    private static void assertDatabaseStillServes() throws Exception {
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile());
             var statement = connection.createStatement()) {
            statement.execute("create table if not exists survived (n int)");
        }
    }

    /**
     * A rolling upgrade: a newer node migrated the catalog past this node's migrations. While those
     * only add, this node starts and works on it; once a newer migration declares nodes as old as
     * this one incompatible, the running node stops (here: its seam is called) and a start is
     * refused with a message, and the database serves throughout.
     */
    @Test
    void aNodeWorksOnACatalogANewerNodeMigratedUntilItIsDeclaredIncompatible() throws Exception {
        DSLContext catalog = keel.bean(DSLContext.class);
        CatalogSchema schema = keel.bean(CatalogSchema.class);
        int known = schema.known();
        assertThat(schema.applied()).isEqualTo(known);
        int newer = known + 1000;
        catalog.execute("insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by,"
                + " execution_time, success) select max(installed_rank) + 1, ?, 'a newer Keel''s migration', 'SQL', 'V" + newer
                + "__future.sql', 0, current_user, 1, true from flyway_schema_history", Integer.toString(newer));
        try {
            keel.stopControlPlane();
            keel.startControlPlane(); // Flyway leaves a future migration alone; the node says it runs beside a newer one
            assertThat(keel.bean(CatalogSchema.class).applied()).isEqualTo(newer);
            assertThat(keel.api().get("/v1/databases/" + database.get("id").asText()).field("state")).isEqualTo("available");

            CountDownLatch stopped = new CountDownLatch(1);
            keel.bean(CatalogSchema.class).stop = stopped::countDown;
            keel.bean(DSLContext.class).execute("update catalog_compatibility set oldest_compatible = ?", newer);
            assertThat(stopped.await(CatalogSchema.WATCH_SECONDS * 3, TimeUnit.SECONDS)).as("the running node stopped").isTrue();
            assertDatabaseStillServes();
            keel.stopControlPlane();
            assertThat(Keel.startupCause(catchThrowable(keel::startControlPlane)))
                    .hasMessage("the catalog was migrated to V" + newer + " by a newer Keel, whose migrations no longer serve nodes older"
                            + " than V" + newer + "; this node knows migrations up to V" + known + ". Replace this node with the newer Keel"
                            + " version (GET /v1/nodes shows each node's version) rather than restarting it as it is.");
        } finally {
            Properties location = new Properties();
            location.load(new StringReader(Files.readString(keel.dataDir().resolve("catalog.properties"))));
            try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + location.getProperty("port") + "/keel",
                    "keel", location.getProperty("password")); Statement sql = connection.createStatement()) {
                sql.execute("update catalog_compatibility set oldest_compatible = 71");
                sql.execute("delete from flyway_schema_history where version = '" + newer + "'");
            }
            keel.startControlPlane();
        }
        assertDatabaseStillServes();
    }

    @Test
    void aLostCatalogPropertiesFileStopsKeelInsteadOfMakingANewCatalog() throws Exception {
        keel.stopControlPlane();
        Path properties = keel.dataDir().resolve("catalog.properties");
        Path aside = keel.dataDir().resolve("catalog.properties.aside");
        Files.move(properties, aside);
        try {
            assertThat(Keel.startupCause(catchThrowable(keel::startControlPlane)))
                    .hasMessageContaining("the embedded catalog under " + keel.serverDir().resolve("catalog/data") + " exists but")
                    .hasMessageContaining("Keel will not initialise a new catalog over an existing one.");
        } finally {
            Files.move(aside, properties);
            keel.startControlPlane();
        }
        assertThat(keel.api().get("/v1/databases/" + database.get("id").asText()).field("state")).isEqualTo("available");
        assertDatabaseStillServes();
    }

    @Test
    void aCatalogThatIsNotThisDataDirectorysStopsKeelBeforeItTouchesAnInstance() throws Exception {
        TestKeel.CatalogServerDatabase otherCatalog = keel.newDatabaseOnCatalogServer("other");
        keel.stopControlPlane();
        try {
            assertThat(Keel.startupCause(catchThrowable(() -> keel.startControlPlane(Map.of("keel.catalog.url", otherCatalog.url())))))
                    .hasMessageStartingWith("this data directory belongs to installation ")
                    .hasMessageEndingWith("; point KEEL_CATALOG_URL (or KEEL_DATA_DIR) at the pair that belongs together. Nothing was changed.");
        } finally {
            keel.startControlPlane();
        }
        assertThat(Files.list(keel.serverDir().resolve("instances")).count()).isEqualTo(1);
        assertDatabaseStillServes();
    }

    /**
     * The periodic sweep sets aside a server no catalog row names, but not while the catalog it
     * reaches is not this data directory's (its URL pointed elsewhere while Keel runs), which
     * names none of them: it says so and waits until the pair belongs together again.
     */
    @Test
    void theSweepSetsNothingAsideWhileTheCatalogIsNotThisDataDirectorys() throws Exception {
        Path identity = keel.dataDir().resolve("installation-id");
        String own = Files.readString(identity);
        Path unnamed = Files.createDirectories(keel.serverDir().resolve("instances").resolve(UUID.randomUUID().toString()));
        try (LogCapture sweep = new LogCapture(InstanceSweep.class)) {
            Files.writeString(identity, UUID.randomUUID() + "\n");
            Wait.until("the sweep to find the catalog is not this data directory's", Duration.ofSeconds(15), () -> sweep.lines().stream()
                    .anyMatch(line -> line.startsWith("The catalog Keel reaches is no longer the installation this data directory belongs to")));
            Thread.sleep(3000); // three more sweeps, a second apart: the second look at a server sets it aside
            assertThat(unnamed).isDirectory();
        } finally {
            Files.writeString(identity, own);
        }
        Wait.until("the sweep to set the unnamed server aside once the pair belongs together", Duration.ofSeconds(15),
                () -> !Files.exists(unnamed));
        assertDatabaseStillServes();
    }

    /**
     * A statement the pool sent before a catalog outage of 3 s or more, still waiting when the
     * node's catalog contact returns, is ended then (NodeHeartbeat's release of stuck connections)
     * rather than left to TCP's next retransmission. The outage here is a lock on the node's row,
     * which the contact's update waits a second for and gives up.
     */
    @Test
    void aStatementLeftWaitingByAnOutageIsEndedWhenTheContactReturns() throws Exception {
        DSLContext catalog = keel.bean(DSLContext.class);
        NodeHeartbeat heartbeat = keel.bean(NodeHeartbeat.class);
        CompletableFuture<Throwable> sleeping = CompletableFuture.supplyAsync(() -> {
            try {
                catalog.execute("select pg_sleep(60)");
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        CountDownLatch release = new CountDownLatch(1);
        try (LogCapture log = new LogCapture(NodeHeartbeat.class)) {
            CompletableFuture<Void> holding = CompletableFuture.runAsync(() -> catalog.transaction(tx -> {
                tx.dsl().execute("select 1 from nodes where name = ? for update", keel.bean(ThisNode.class).name());
                release.await();
            }));
            try {
                Wait.until("the node's catalog contact to be out for 4 s", Duration.ofSeconds(30),
                        () -> heartbeat.sinceCatalogContact().compareTo(Duration.ofSeconds(4)) > 0);
                assertThat(sleeping).isNotDone();
            } finally {
                release.countDown();
                holding.get(30, TimeUnit.SECONDS);
            }
            long released = System.nanoTime();
            assertThat(sleeping.get(10, TimeUnit.SECONDS)).isInstanceOf(DataAccessException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - released)).isLessThan(Duration.ofSeconds(5));
            Wait.until("the heartbeat to say what it closed", Duration.ofSeconds(5), () -> log.lines().stream()
                    .anyMatch(line -> line.contains("catalog connection(s) whose statements the outage left waiting")));
        }
        assertDatabaseStillServes();
    }

    @Test
    void anEmbeddedCatalogRefusesToBeJoinedEvenWhileItsNodeIsStopped() throws Exception {
        String owner = keel.bean(ThisNode.class).name();
        Properties catalog = new Properties();
        catalog.load(new StringReader(Files.readString(keel.dataDir().resolve("catalog.properties"))));
        keel.stopControlPlane();
        Path joinerDir = TestKeel.freshDataDir("catalog-safety-joiner");
        TestKeel.Ports ports = TestKeel.nextPorts();
        Map<String, Object> joiner = new HashMap<>();
        joiner.put("keel.data-dir", joinerDir.toString());
        joiner.put("micronaut.server.port", -1);
        joiner.put("keel.postgres.install-dir", TestKeel.sharedInstallDir().toString());
        joiner.put("keel.catalog.url", "postgres://keel:" + catalog.getProperty("password") + "@127.0.0.1:" + catalog.getProperty("port") + "/keel");
        joiner.put("keel.node.name", "joiner");
        joiner.put("keel.instances.ports", ports.instances());
        joiner.put("keel.s3.embedded-ports", ports.s3());
        joiner.put("keel.pooling.ports", ports.poolers());
        joiner.put("keel.backups.download-port", 0);
        ApplicationContext other = ApplicationContext.builder().properties(joiner).deduceEnvironment(false).build();
        try {
            assertThat(Keel.startupCause(catchThrowable(other::start))).hasMessage("this catalog belongs to node " + owner + ": its catalog"
                    + " is embedded in that node's data directory and cannot be joined: to run several nodes, configure KEEL_CATALOG_URL to an"
                    + " external Postgres, and KEEL_S3_* and KEEL_SECRET_KEY, on every node. Nothing was changed.");
        } finally {
            other.close();
            Keel.stopServers(joinerDir);
            keel.startControlPlane();
        }
        assertDatabaseStillServes();
    }

    @Test
    void aSecondNodeOnTheSameCatalogIsRefused() throws Exception {
        Map<String, Object> second = new HashMap<>();
        second.put("keel.data-dir", keel.dataDir().toString());
        second.put("micronaut.server.port", -1);
        second.put("keel.postgres.install-dir", TestKeel.sharedInstallDir().toString());
        second.put("keel.catalog.node-lock-wait", "1s");
        second.put("keel.node.name", "second");
        ApplicationContext other = ApplicationContext.builder().properties(second).deduceEnvironment(false).build();
        try {
            assertThat(Keel.startupCause(catchThrowable(other::start)))
                    .hasMessageStartingWith("another Keel node is running on this catalog (")
                    .hasMessageContaining("): node " + keel.bean(ThisNode.class).name() + " at " + keel.api().baseUrl() + ", its last heartbeat ")
                    .hasMessageEndingWith(" s ago; its catalog is embedded in that node's data directory and cannot be joined: to run several"
                            + " nodes, configure KEEL_CATALOG_URL to an external Postgres, and KEEL_S3_* and KEEL_SECRET_KEY, on every node.");
        } finally {
            other.close();
        }
        assertThat(keel.api().get("/v1/databases/" + database.get("id").asText()).field("state")).isEqualTo("available");
        assertDatabaseStillServes();
    }
}
