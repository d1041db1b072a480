package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.Footprint;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.S3Server;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code kill -9} of Keel while it makes a forgotten node's primary anew ({@code PrimaryRemake}):
 * once while it unpacks the base backup, once while the restored server replays the archive (held
 * in recovery over the kill). Each
 * next start resumes the remake, discards the half-made server, and makes the primary again, with
 * every write the WAL receiver had stored, under the database's own credentials, and leaves no
 * server or data directory behind. The lost node is a row of the registry that no Keel runs
 * ({@link SilentNodes}); the database's primary is handed to it in the catalog and its postmaster
 * killed, as if its host had gone with it. The node runs on a host of its own with an external
 * catalog and store ({@link Hosts}), as several nodes do: a node of an embedded catalog is its only
 * one, and takes every server back at its start.
 */
class RemakeCrashIT {

    @Test
    void killNineWhileARemakeUnpacksAndWhileItReplaysIsResumedAndLosesNothing() throws Exception {
        try (Hosts hosts = Hosts.create("db", "s3", "node-a");
             CatalogServer catalogServer = CatalogServer.start(hosts.host("db"), TestKeel.freshDataDir("remake-catalog"), hosts.cidr());
             S3Server s3 = S3Server.start(hosts.host("s3"), TestKeel.freshDataDir("remake-s3"));
             Connection catalogConnection = catalogServer.connect()) {
            DSLContext catalog = DSL.using(catalogConnection, SQLDialect.POSTGRES);
            Hosts.Host nodeA = hosts.host("node-a");
            Map<String, String> env = NodeWork.nodeEnv(NodeWork.sharedEnv(catalogServer, s3, hosts), nodeA);
            Path dataDir = TestKeel.freshDataDir("crash-remake");
            TestKeel.Ports ports = TestKeel.nextPorts();
            KeelProcess keel = KeelProcess.start(nodeA.command(KeelProcess.command()), dataDir, ports, "0", env);
            String id = null;
            try {
                Path ca = dataDir.resolveSibling("crash-remake-ca.pem");
                Files.writeString(ca, keel.api().get("/v1/ca.pem").text());
                JsonNode database = keel.api().provision("{\"plan\":\"standard-0\"}");
                id = database.get("id").asText();
                String url = database.get("url").asText();
                UUID databaseId = UUID.fromString(id);
                UUID lost = UUID.fromString(database.get("instances").get(0).get("id").asText());
                ArchiveWaits.awaitInitialBackup(keel.api(), id);
                String written;
                try (Connection connection = Pg.connect(url, ca)) {
                    connection.createStatement().execute("create table kept as select generate_series(1, 1000) n");
                    written = Pg.scalar(connection, "select pg_current_wal_lsn()");
                }
                ArchiveWaits.awaitStreamed(keel.api(), id, written);

                // Its node's host is gone: the primary's row names a node no Keel runs, and its postmaster is killed.
                String silent = SilentNodes.add(catalog, "crash-remake");
                catalog.update(INSTANCES).set(INSTANCES.NODE, silent).where(INSTANCES.ID.eq(lost)).execute();
                Footprint.killServer(serverDir(dataDir, lost), url);
                Api.Response forgotten = keel.api().post("/v1/nodes/" + silent + "/forget", "{\"confirm\":\"" + silent + "\"}");
                assertThat(forgotten.status()).as(forgotten.toString()).isEqualTo(200);
                JsonNode affected = forgotten.json().get("databases").get(0);
                assertThat(affected.get("action").asText()).as(forgotten.toString()).isEqualTo("remake");
                UUID remake = UUID.fromString(affected.get("operation_id").asText());

                // Killed while the base backup is unpacked: the server being made has a row, and no postmaster yet.
                UUID unpacking = awaitMaking(catalog, remake, databaseId, lost, made -> true);
                keel.kill9();
                assertThat(stateOf(catalog, remake)).as("the remake, at the first kill").isEqualTo("running");
                keel = KeelProcess.start(nodeA.command(KeelProcess.command()), dataDir, ports, "1", env);

                // Killed while the server made anew replays the archive: its postmaster runs, in recovery. It is held still
                // meanwhile, and an answer Keel had left it but it had not read yet is taken back, so that it is in recovery when
                // Keel starts again (a server Postgres promoted is kept, as it may have taken writes through DATABASE_URL).
                UUID replaying = awaitMaking(catalog, remake, databaseId, lost,
                        made -> !made.equals(unpacking) && Files.exists(serverDir(dataDir, made).resolve("postmaster.pid")));
                long postmaster = Long.parseLong(Files.readAllLines(serverDir(dataDir, replaying).resolve("postmaster.pid")).get(0).strip());
                Footprint.stopServer(postmaster);
                try {
                    assertThat(serverDir(dataDir, replaying).resolve("recovery.signal")).as("a server not promoted yet").exists();
                    keel.kill9();
                    try (Stream<Path> answers = Files.list(serverDir(dataDir, replaying).resolveSibling("restore"))) {
                        for (Path missing : answers.filter(answer -> answer.getFileName().toString().endsWith(".missing")).toList()) {
                            Files.delete(missing);
                        }
                    }
                } finally {
                    Footprint.resumeServer(postmaster);
                }
                assertThat(stateOf(catalog, remake)).as("the remake, at the second kill").isEqualTo("running");
                keel = KeelProcess.start(nodeA.command(KeelProcess.command()), dataDir, ports, "2", env);

                Api api = keel.api();
                Wait.until("the remake to succeed", Timeouts.RESTORE, () -> {
                    JsonNode seen = api.get("/v1/operations/" + remake).json();
                    assertThat(seen.get("state").asText()).as(seen.toString()).isIn("running", "succeeded");
                    return seen.get("state").asText().equals("succeeded");
                });
                assertThat(keel.log()).contains("Reconciler decision: RESUME " + remake);
                JsonNode remade = api.get("/v1/databases/" + id).json();
                assertThat(remade.get("state").asText()).isEqualTo("available");
                assertThat(remade.get("instances")).as(remade.toString()).hasSize(1);
                assertThat(remade.get("instances").get(0).get("id").asText()).as("a server made after the kills")
                        .isNotIn(lost.toString(), unpacking.toString(), replaying.toString());
                String newUrl = remade.get("url").asText();
                assertThat(newUrl.replaceFirst(":\\d+/", ":port/")).as("the same credentials").isEqualTo(url.replaceFirst(":\\d+/", ":port/"));
                try (Connection connection = Pg.connect(newUrl, ca)) {
                    assertThat(Pg.scalar(connection, "select count(*) from kept")).isEqualTo("1000");
                    assertThat(Pg.scalar(connection, "select pg_is_in_recovery()::text")).isEqualTo("false");
                    connection.createStatement().execute("insert into kept values (1001)");
                }
                // The half-made servers are gone, and the lost one's directory is set aside once the sweep finds no row naming it.
                Wait.until("only the remade server's directory to be left", Timeouts.PROVISION,
                        () -> Footprint.instanceDirs(dataDir).size() == 1);
                Footprint.assertMatchesApi(api, dataDir);
                catalog.deleteFrom(OPERATIONS).where(OPERATIONS.NODE.eq(silent)).execute();
                catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
            } finally {
                try {
                    if (id != null) {
                        keel.api().deprovision(id);
                    }
                } finally {
                    keel.stop();
                    dev.keel.Keel.stopServers(dataDir);
                }
            }
        }
    }

    /**
     * The server of database {@code databaseId} being made on Keel's own node (not {@code lost}),
     * once one that {@code wanted} accepts has a row, polled fast: each phase lasts a second or two.
     * Remake {@code remake} must still be running meanwhile.
     */
    private static UUID awaitMaking(DSLContext catalog, UUID remake, UUID databaseId, UUID lost, Predicate<UUID> wanted) {
        return Wait.until("a server of " + databaseId + " being made", Timeouts.RESTORE, Duration.ofMillis(10), () -> {
            assertThat(stateOf(catalog, remake)).as("remake %s: %s; the servers: %s", remake, catalog.select(OPERATIONS.ERROR).from(OPERATIONS)
                    .where(OPERATIONS.ID.eq(remake)).fetchSingle(OPERATIONS.ERROR), catalog.select(INSTANCES.ID, INSTANCES.ROLE,
                    INSTANCES.STATE, INSTANCES.NODE).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId)).fetch()).isEqualTo("running");
            return catalog.select(INSTANCES.ID).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId)).and(INSTANCES.ID.ne(lost))
                    .and(INSTANCES.STATE.eq("creating")).fetch(INSTANCES.ID).stream().filter(wanted).findFirst();
        });
    }

    private static String stateOf(DSLContext catalog, UUID operation) {
        return catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(operation)).fetchSingle(OPERATIONS.STATE);
    }

    private static Path serverDir(Path dataDir, UUID instance) {
        return NodeWork.dataDir(dataDir, instance.toString());
    }

}
