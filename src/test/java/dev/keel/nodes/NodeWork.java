package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.postgres.Lsn;
import dev.keel.testing.Api;
import dev.keel.testing.CatalogServer;
import dev.keel.testing.Hosts;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.S3Server;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.core.annotation.Nullable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;

/** What the tests of several nodes ask of a node's API: a node's state, a backup as a piece of work to hand over, where a database's servers are. */
final class NodeWork {
    private NodeWork() {
    }

    /** Each registered node's version of Keel, by name, as {@code GET /v1/nodes} shows them to {@code admin}. */
    static Map<String, String> versions(Api admin) {
        Map<String, String> versions = new TreeMap<>();
        for (JsonNode node : admin.get("/v1/nodes").json()) {
            versions.put(node.get("name").asText(), node.get("version").asText());
        }
        return versions;
    }

    /** Node {@code name}'s state as {@code admin}'s node lists it ({@code absent} when it does not). */
    static String state(Api admin, String name) {
        for (JsonNode node : admin.get("/v1/nodes").json()) {
            if (node.get("name").asText().equals(name)) {
                return node.get("state").asText();
            }
        }
        return "absent";
    }

    /** Asks for a backup of {@code database} (after the one provisioning started, if it still runs); its operation's id. */
    static String askBackup(Api api, String database) {
        Api.Response taken = api.post("/v1/databases/" + database + "/backups", "");
        if (taken.status() == 409 && "/problems/backup-running".equals(taken.field("type"))) {
            awaitSucceeded(api, taken.field("operation_id"));
            taken = api.post("/v1/databases/" + database + "/backups", "");
        }
        assertThat(taken.status()).as(taken.toString()).isEqualTo(202);
        return taken.json().get("operation_id").asText();
    }

    static void awaitSucceeded(Api api, String operation) {
        Wait.until("operation " + operation + " to succeed", Timeouts.LOGICAL_BACKUP, () -> {
            JsonNode op = api.get("/v1/operations/" + operation).json();
            assertThat(op.get("state").asText()).as(op.toString()).isIn("running", "succeeded");
            return op.get("state").asText().equals("succeeded");
        });
    }

    /** The node of the database's live server of {@code role} in its view, or null. */
    static String serverOn(JsonNode view, String role) {
        for (JsonNode instance : view.get("instances")) {
            if (role.equals(instance.get("role").asText()) && !List.of("deleting", "fenced").contains(instance.get("state").asText())) {
                return instance.get("node").asText();
            }
        }
        return null;
    }

    /** Waits until the HA status (as the node asked tells it) is Available with the standby on {@code node}, not the primary's. */
    static void awaitStandbyOn(Api watching, String id, String node) {
        Wait.until("the standby of " + id + " to stream from node " + node, Timeouts.HA_STANDBY, () -> {
            JsonNode view = watching.get("/v1/databases/" + id).json();
            return "Available".equals(watching.get("/v1/databases/" + id + "/ha").field("status")) && node.equals(serverOn(view, "standby"));
        });
        JsonNode view = watching.get("/v1/databases/" + id).json();
        assertThat(serverOn(view, "standby")).as(view.toString()).isNotEqualTo(serverOn(view, "primary"));
    }

    /**
     * Waits until database {@code id}'s WAL receiver runs on {@code node}, streaming or behind, and
     * has stored through {@code lsn} if given.
     */
    static void awaitReceiverOn(Api asked, String id, String node, String lsn) {
        Wait.until("the WAL receiver of " + id + " to stream on " + node + (lsn == null ? "" : " through " + lsn), Timeouts.SWITCHOVER, () -> {
            JsonNode receiver = asked.get("/v1/databases/" + id + "/archive").json().path("receiver");
            if (!node.equals(receiver.path("node").asText()) || !Set.of("streaming", "behind").contains(receiver.path("state").asText())) {
                return false;
            }
            return lsn == null || !receiver.path("streamed_lsn").isNull()
                    && !Lsn.parse(lsn).isAfter(Lsn.parse(receiver.path("streamed_lsn").asText()));
        });
    }

    /**
     * The settings every node of a network-namespace harness shares, as the README's "Nodes and
     * upgrading Keel" says: the catalog, the store, one secret key; a 1 s heartbeat and 5 s to be
     * lost; the hosts' network for the nodes' own connections.
     */
    static Map<String, String> sharedEnv(CatalogServer catalog, S3Server s3, Hosts hosts) {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Map<String, String> common = new HashMap<>(KeelProcess.NO_POOL);
        common.putAll(s3.env());
        common.put("KEEL_CATALOG_URL", catalog.url());
        common.put("KEEL_SECRET_KEY", Base64.getEncoder().encodeToString(key));
        common.put("KEEL_NODE_HEARTBEAT_INTERVAL", "1s");
        common.put("KEEL_NODE_LOST_AFTER", "5s");
        common.put("KEEL_NODES_NETWORK", hosts.cidr());
        return common;
    }

    /** {@code shared} and what is the node's own on {@code host}: its name and the address it binds. */
    static Map<String, String> nodeEnv(Map<String, String> shared, Hosts.Host host) {
        Map<String, String> env = new HashMap<>(shared);
        env.put("KEEL_BIND", host.address());
        env.put("KEEL_NODE_NAME", host.name());
        return env;
    }

    /** A new team {@code name}, made through {@code admin}'s node; the team's API there. */
    static Api newTeam(Api admin, String name) {
        Api.Response created = admin.post("/v1/teams", "{\"name\":\"" + name + "\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return admin.withKey(created.json().get("api_key").get("key").asText());
    }

    /**
     * When process {@code pid} was seen gone ({@link #goneOrZombie}), polled every 10 ms throughout, on this machine's clock,
     * which every host of the harness shares; within {@link Timeouts#PROCESS_EXIT}.
     */
    static Instant awaitGone(String what, long pid) {
        return Wait.until(what, Timeouts.PROCESS_EXIT, () -> {
            long until = System.nanoTime() + Timeouts.PROCESS_EXIT.toNanos();
            while (System.nanoTime() < until) {
                if (goneOrZombie(pid)) {
                    return Optional.of(Instant.now());
                }
                LockSupport.parkNanos(10_000_000L);
            }
            return Optional.<Instant>empty();
        });
    }

    /** Whether process {@code pid} has ended (gone, or a zombie its parent has not reaped yet). */
    static boolean goneOrZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException e) {
            return true;
        }
    }

    /**
     * The end of a two-host harness test, whatever happened: prints what {@code test} observed,
     * deletes the databases a failure left (through node-a, with the team's key), stops both nodes
     * and any server they left.
     */
    static void tearDown(String test, List<String> observed, Collection<String> left, String teamKey, KeelProcess a,
                         @Nullable KeelProcess b, Path dirA, Path dirB) {
        System.out.println(test + " observed:\n  " + String.join("\n  ", observed));
        for (String id : left) {
            try {
                a.api().withKey(teamKey).deprovision(id);
            } catch (RuntimeException | AssertionError e) {
                System.out.println(test + " could not delete " + id + ": " + e);
            }
        }
        a.stop();
        if (b != null) {
            b.stop();
        }
        Keel.stopServers(dirA);
        Keel.stopServers(dirB);
        TestKeel.stopFenceGuard(dirA);
        TestKeel.stopFenceGuard(dirB);
    }

    /** The data directory of server {@code instance} under a node's data directory {@code keelDir}. */
    static Path dataDir(Path keelDir, String instance) {
        return keelDir.resolve("servers").resolve("instances").resolve(instance).resolve("data");
    }

    /** Runs {@code sql} through {@code url}, verify-full against {@code ca}. */
    static void execute(String url, Path ca, String sql) throws SQLException {
        try (Connection connection = Pg.connect(url, ca); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }
}
