package dev.keel.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/** Waiting for the HA monitor's decisions through {@code GET /v1/databases/{id}/ha}, as a user would. */
public final class HaDecisions {
    private HaDecisions() {
    }

    /**
     * The newest decision of {@code kind} taken after {@code after} (decisions outlive failovers),
     * once the operation it started, if any, has ended: a failover's decision is kept as its
     * operation begins, before the standby is promoted.
     */
    public static JsonNode await(Api api, String id, String kind, Instant after, Duration timeout) {
        return Wait.until("an HA decision '" + kind + "' for " + id + " after " + after + ", its operation ended", timeout, () -> {
            for (JsonNode decision : api.get("/v1/databases/" + id + "/ha").json().get("decisions")) {
                if (decision.get("kind").asText().equals(kind) && Instant.parse(decision.get("at").asText()).isAfter(after)) {
                    return ended(api, decision) ? Optional.of(decision) : Optional.empty();
                }
            }
            return Optional.empty();
        });
    }

    private static boolean ended(Api api, JsonNode decision) {
        JsonNode operation = decision.get("operation_id");
        return operation == null || operation.isNull() || !"running".equals(api.get("/v1/operations/" + operation.asText()).field("state"));
    }
}
