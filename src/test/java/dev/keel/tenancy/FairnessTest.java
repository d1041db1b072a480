package dev.keel.tenancy;

import dev.keel.testing.Api;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.Record2;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.keel.catalog.schema.Tables.OPERATIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Teams take turns for the operation threads, and no team holds all of them. Keel runs here with
 * two threads; one team keeps a plan change (a server restart) pending on each of its four
 * databases, so at least two of them always wait in the queue. The flooding team never runs two
 * operations at once: the second thread stays for other teams. Another team's provision, asked
 * for then, starts at once on it: before it starts, at most the one flood operation already
 * running finishes. In arrival order it would wait for all four. Counted from the catalog's operation
 * times, so the machine's speed does not matter; the provision's duration alone and under the
 * flood is printed as a figure.
 */
class FairnessTest {
    private static final int FLOODED_DATABASES = 4;
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("fairness", Map.of("keel.instances.pool.size", 0, "keel.operations.threads", 2));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void anotherTeamsProvisionRunsNextWhileOneTeamKeepsAPlanChangeQueuedOnEachOfItsDatabases() throws Exception {
        Api flooder = keel.newTeam("flooder-" + System.nanoTime());
        Api bystander = keel.newTeam("bystander-" + System.nanoTime());
        List<String> flooded = new ArrayList<>();
        for (int i = 0; i < FLOODED_DATABASES; i++) {
            flooded.add(flooder.post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id"));
        }
        flooded.forEach(flooder::awaitAvailable);
        Wait.until("the flooded databases' first backups", Timeouts.PROVISION, () -> pending(flooded) == 0);
        long alone = provisionMillis(bystander);

        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        Thread flood = new Thread(() -> {
            while (flooding.get()) {
                for (String id : flooded) {
                    String plan = flooder.get("/v1/databases/" + id).field("plan");
                    Api.Response changed = flooder.patch("/v1/databases/" + id,
                            "{\"plan\":\"" + ("essential-0".equals(plan) ? "standard-0" : "essential-0") + "\"}");
                    (changed.status() == 202 ? accepted : refused).incrementAndGet();
                }
            }
        }, "flood");
        flood.start();
        long underFlood;
        int floodFinishedMeanwhile;
        OffsetDateTime floodBegan = catalog().select(DSL.currentOffsetDateTime()).fetchSingle().value1();
        try {
            Wait.until("a plan change pending on every flooded database", Timeouts.PROVISION, () -> pending(flooded) == FLOODED_DATABASES);
            OffsetDateTime asked = catalog().select(DSL.currentOffsetDateTime()).fetchSingle().value1();
            long started = System.nanoTime();
            String id = bystander.provision("{\"plan\":\"essential-0\"}").get("id").asText();
            underFlood = (System.nanoTime() - started) / 1_000_000;
            // Until it began: while it runs on the second thread, the flood goes on on the first, as it may.
            OffsetDateTime began = catalog().select(OPERATIONS.STARTED_AT).from(OPERATIONS)
                    .where(OPERATIONS.DATABASE_ID.eq(UUID.fromString(id)), OPERATIONS.KIND.eq("provision")).fetchSingle().value1();
            floodFinishedMeanwhile = catalog().fetchCount(OPERATIONS, OPERATIONS.DATABASE_ID.in(ids(flooded)),
                    OPERATIONS.FINISHED_AT.gt(asked), OPERATIONS.FINISHED_AT.lt(began));
            bystander.deprovision(id);
        } finally {
            flooding.set(false);
            flood.join();
        }
        System.out.printf("fairness: provision %d ms alone, %d ms while another team kept %d plan changes pending (%d accepted, %d"
                + " refused with 409); flood operations finished while it waited: %d%n", alone, underFlood, FLOODED_DATABASES, accepted.get(),
                refused.get(), floodFinishedMeanwhile);
        try {
            assertThat(floodFinishedMeanwhile).as("flood operations that finished while the other team's provision waited")
                    .isLessThanOrEqualTo(1);
            Wait.until("the flood to settle", Timeouts.RESTORE, () -> pending(flooded) == 0);
            List<Record2<OffsetDateTime, OffsetDateTime>> ran = catalog().select(OPERATIONS.STARTED_AT, OPERATIONS.FINISHED_AT)
                    .from(OPERATIONS).where(OPERATIONS.DATABASE_ID.in(ids(flooded)), OPERATIONS.STARTED_AT.ge(floodBegan))
                    .orderBy(OPERATIONS.STARTED_AT).fetch();
            assertThat(ran).as("the flood's operations").hasSizeGreaterThanOrEqualTo(FLOODED_DATABASES);
            for (int i = 1; i < ran.size(); i++) {
                assertThat(ran.get(i).value1()).as("flood operation %d began after the one before it ended: one team holds one of two threads", i)
                        .isAfterOrEqualTo(ran.get(i - 1).value2());
            }
        } finally {
            Wait.until("the flood to settle", Timeouts.RESTORE, () -> pending(flooded) == 0);
            for (String id : flooded) {
                flooder.deprovision(id);
            }
        }
    }

    /** Operations of {@code databases} not finished yet (queued or running). */
    private static int pending(List<String> databases) {
        return catalog().fetchCount(OPERATIONS, OPERATIONS.DATABASE_ID.in(ids(databases)), OPERATIONS.FINISHED_AT.isNull());
    }

    private static List<UUID> ids(List<String> databases) {
        return databases.stream().map(UUID::fromString).toList();
    }

    private static DSLContext catalog() {
        return keel.bean(DSLContext.class);
    }

    /** Provisions an essential database, times it to available, and deletes it. */
    private static long provisionMillis(Api api) {
        long started = System.nanoTime();
        String id = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        long millis = (System.nanoTime() - started) / 1_000_000;
        api.deprovision(id);
        return millis;
    }
}
