package dev.keel.databases;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.FileTrees;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.OperationInbox;
import dev.keel.postgres.Postmaster;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.LogCapture;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.Record2;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import static dev.keel.catalog.schema.Tables.INSTANCES;
import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Deleting a database whose server's node is silent: another node takes the deletion over rather
 * than leave it waiting for a node that may never return, and the catalog forgets the server.
 * Should that node come back without restarting (a partition healed), its periodic sweep stops the
 * server no row names and sets its data aside, so that it serves the deleted database no longer.
 * Here the shared Keel plays both: the catalog says its server is the silent node's. (It is the
 * least busy active node that takes the deletion over: the lock on the node registry keeps the
 * other tests' stand-in nodes away meanwhile.)
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class DeleteTakeOverTest {
    @Test
    void aDeletionLeftToASilentNodeIsTakenOverAndTheServerItForgotIsSetAsideByItsNode(TestKeel keel) throws Exception {
        Api team = keel.newTeam("delete-take-over");
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        UUID id = UUID.fromString(db.get("id").asText());
        DSLContext catalog = keel.bean(DSLContext.class);
        String here = keel.bean(ThisNode.class).name();
        Record2<UUID, Integer> server = catalog.select(INSTANCES.ID, INSTANCES.PORT).from(INSTANCES)
                .where(INSTANCES.DATABASE_ID.eq(id)).fetchSingle();
        Path data = keel.instanceDataDir(server.value1());
        assertThat(Postmaster.isRunning(data)).isTrue();

        String silent = SilentNodes.add(catalog, "lost");
        Path setAside = null;
        try (LogCapture inbox = new LogCapture(OperationInbox.class)) {
            catalog.update(INSTANCES).set(INSTANCES.NODE, silent).where(INSTANCES.DATABASE_ID.eq(id)).execute();
            Api.Response deleting = team.delete("/v1/databases/" + id);
            assertThat(deleting.status()).as(deleting.toString()).isEqualTo(202);
            UUID operation = UUID.fromString(deleting.json().get("progress").get("operation_id").asText());

            // Addressed to the node that hosts the server, which never begins it, so this node takes it over (within the
            // inbox's interval, maybe before the answer is read), and the database is gone.
            team.awaitGone(id.toString());
            assertThat(inbox.lines()).anyMatch(line -> line.startsWith("Took over operation deprovision " + operation + " of database "
                    + id + " from node " + silent + ","));
            // The database goes in the operation's last step; the operation's end is recorded a moment after.
            JsonNode done = Wait.until("the deletion to end", Duration.ofSeconds(30), () -> {
                JsonNode op = team.get("/v1/operations/" + operation).json();
                return "running".equals(op.get("state").asText()) ? Optional.empty() : Optional.of(op);
            });
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
            assertThat(catalog.select(OPERATIONS.NODE).from(OPERATIONS).where(OPERATIONS.ID.eq(operation)).fetchSingle(OPERATIONS.NODE))
                    .isEqualTo(here);
            assertThat(catalog.fetchCount(INSTANCES, INSTANCES.ID.eq(server.value1()))).isZero();

            // The server the catalog forgot is stopped and its data set aside at the sweep's second look (10 s apart).
            Path orphans = keel.serverDir().resolve("orphans");
            setAside = Wait.until("the forgotten server to be set aside", Duration.ofSeconds(60), () -> {
                if (!Files.isDirectory(orphans)) {
                    return Optional.empty();
                }
                try (Stream<Path> kept = Files.list(orphans)) {
                    return kept.filter(p -> p.getFileName().toString().startsWith(server.value1() + "-")).findFirst();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            assertThat(setAside.resolve("data/PG_VERSION")).exists();
            assertThat(Files.exists(data)).isFalse();
            assertThat(Footprint.portIsFree(server.value2())).isTrue();
        } finally {
            // Should the test stop before the deletion forgot the server, its row goes back to this node first.
            catalog.update(INSTANCES).set(INSTANCES.NODE, here).where(INSTANCES.NODE.eq(silent)).execute();
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
            if (setAside != null) {
                FileTrees.delete(setAside);
            }
        }
    }
}
