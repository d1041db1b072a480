package dev.keel.operations;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.Failure;
import dev.keel.problems.ProblemType;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SilentNodes;
import dev.keel.testing.TestKeel;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.ResourceLock;

import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.NODES;
import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Operations of a kind a newer Keel recorded, as an older node finds them during a rolling upgrade
 * (or once a node is rolled back): shown as they are, never run, collected or recovered by this
 * version, and ended with the rest of a forgotten node's work. Before, reading one failed: {@code
 * GET /v1/operations/{id}} answered 500, and a start that found one addressed to its node stopped.
 */
@ExtendWith(SharedKeel.class)
@ResourceLock(SharedKeel.NODES)
class NewerKindTest {
    private static final String NEWER = "kind-of-a-newer-keel";

    @Test
    void workOfAKindThisVersionDoesNotKnowIsShownLeftAloneAndEndedWithItsForgottenNode(TestKeel keel) {
        String teamName = "newer-kind-" + System.nanoTime();
        Api team = keel.newTeam(teamName);
        DSLContext catalog = keel.bean(DSLContext.class);
        OperationRepository operations = keel.bean(OperationRepository.class);
        String here = keel.bean(ThisNode.class).name();
        UUID teamId = catalog.select(TEAMS.ID).from(TEAMS).where(TEAMS.NAME.eq(teamName)).fetchSingle(TEAMS.ID);
        UUID database = UUID.randomUUID();
        String silent = SilentNodes.add(catalog, "newer");
        UUID handed = newer(catalog, teamId, database, here);
        UUID stranded = newer(catalog, teamId, database, silent);
        try {
            // Shown as stored, kind and all.
            JsonNode shown = team.get("/v1/operations/" + handed).json();
            assertThat(shown.get("kind").asText()).isEqualTo(NEWER);
            assertThat(shown.get("state").asText()).isEqualTo("running");
            assertThat(shown.get("node").asText()).isEqualTo(here);
            assertThat(shown.get("step").asText()).isEqualTo("a step of a newer version");

            // Addressed to this node: neither collected nor recovered, only named for the log.
            assertThat(operations.handedHere(Set.of())).extracting(Operation::id).doesNotContain(handed);
            assertThat(operations.unfinishedHere()).extracting(Operation::id).doesNotContain(handed);
            assertThat(operations.unknownHere()).anySatisfy(line -> assertThat(line).startsWith(handed.toString())
                    .contains(NEWER).contains("newer-node"));
            assertThat(operations.neverBegunOn(Set.of(silent))).extracting(s -> s.operation().id()).doesNotContain(stranded);

            // Addressed to a node an operator forgot: ended with its other work, though this version has no record of it to end.
            assertThat(operations.giveUpAllOnSilent(database, silent, Failure.of(ProblemType.UNAVAILABLE, "node forgotten"))).isEmpty();
            assertThat(catalog.select(OPERATIONS.STATE).from(OPERATIONS).where(OPERATIONS.ID.eq(stranded)).fetchSingle(OPERATIONS.STATE))
                    .isEqualTo("failed");
            assertThat(team.get("/v1/operations/" + stranded).json().get("error").asText()).isEqualTo("node forgotten");
        } finally {
            catalog.deleteFrom(OPERATIONS).where(OPERATIONS.ID.in(handed, stranded)).execute();
            catalog.deleteFrom(NODES).where(NODES.NAME.eq(silent)).execute();
        }
    }

    /** A running operation of kind {@link #NEWER} that node {@code newer-node} recorded for node {@code node}. */
    private static UUID newer(DSLContext catalog, UUID team, UUID database, String node) {
        UUID id = UUID.randomUUID();
        catalog.insertInto(OPERATIONS).set(OPERATIONS.ID, id).set(OPERATIONS.TEAM_ID, team).set(OPERATIONS.DATABASE_ID, database)
                .set(OPERATIONS.KIND, NEWER).set(OPERATIONS.STATE, "running").set(OPERATIONS.STEP, "a step of a newer version")
                .set(OPERATIONS.PROGRESS_TOTAL, 3L).set(OPERATIONS.RECORDED_BY, "newer-node").set(OPERATIONS.NODE, node).execute();
        return id;
    }
}
