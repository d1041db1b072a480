package dev.keel.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What the tests of several nodes ask of a node's API: a node's state, a backup as a piece of work to hand over, where a database's servers are. */
final class NodeWork {
    private NodeWork() {
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
}
