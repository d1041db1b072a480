package dev.keel.operations;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Operations finished longer ago than KEEL_OPERATIONS_KEEP are forgotten, in batches; newer ones,
 * and failovers of a database that still exists (the failover metric counts them), are kept.
 */
@ExtendWith(SharedKeel.class)
class OperationPruneTest {
    @Test
    void finishedOperationsPastTheKeepAreForgottenButFailoversOfALiveDatabaseStay(TestKeel keel) {
        String teamName = "prune-" + System.nanoTime();
        Api team = keel.newTeam(teamName);
        JsonNode db = team.provision("{\"plan\":\"essential-0\"}");
        UUID live = UUID.fromString(db.get("id").asText());
        DSLContext catalog = keel.bean(DSLContext.class);
        UUID teamId = catalog.select(TEAMS.ID).from(TEAMS).where(TEAMS.NAME.eq(teamName)).fetchSingle(TEAMS.ID);
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
        OffsetDateTime before = now.minusDays(30);
        OffsetDateTime old = now.minusDays(40);
        UUID gone = UUID.randomUUID(); // a database deleted since
        List<UUID> forgotten = new ArrayList<>();
        for (int i = 0; i < OperationJobs.BATCH + 5; i++) { // more than one batch
            forgotten.add(operation(catalog, teamId, live, OperationKind.BACKUP, "succeeded", old));
        }
        forgotten.add(operation(catalog, teamId, live, OperationKind.PLAN_CHANGE, "failed", old));
        forgotten.add(operation(catalog, teamId, gone, OperationKind.FAILOVER, "succeeded", old));
        List<UUID> kept = List.of(
                operation(catalog, teamId, live, OperationKind.FAILOVER, "succeeded", old),
                operation(catalog, teamId, live, OperationKind.BACKUP, "succeeded", now.minusDays(29)));
        try {
            int pruned = keel.bean(OperationJobs.PruneJob.class).prune(before);
            assertThat(pruned).isGreaterThanOrEqualTo(forgotten.size());
            assertThat(catalog.fetchCount(OPERATIONS, OPERATIONS.ID.in(forgotten))).isZero();
            assertThat(catalog.fetchCount(OPERATIONS, OPERATIONS.ID.in(kept))).isEqualTo(kept.size());
            assertThat(team.get("/v1/operations/" + forgotten.get(0)).status()).isEqualTo(404);
        } finally {
            catalog.deleteFrom(OPERATIONS).where(OPERATIONS.ID.in(kept)).execute();
            team.deprovision(live.toString());
        }
    }

    private static UUID operation(DSLContext catalog, UUID team, UUID database, OperationKind kind, String state, OffsetDateTime finished) {
        UUID id = UUID.randomUUID();
        catalog.insertInto(OPERATIONS).set(OPERATIONS.ID, id).set(OPERATIONS.TEAM_ID, team).set(OPERATIONS.DATABASE_ID, database)
                .set(OPERATIONS.KIND, kind.value()).set(OPERATIONS.STATE, state)
                .set(OPERATIONS.CREATED_AT, finished.minusMinutes(1))
                .set(OPERATIONS.FINISHED_AT, finished).execute();
        return id;
    }
}
