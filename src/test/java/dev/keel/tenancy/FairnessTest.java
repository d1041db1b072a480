package dev.keel.tenancy;

import dev.keel.testing.Api;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One team keeps every operation thread busy with plan changes (each a server restart) on
 * several databases; another team's provision still completes within twice its unloaded time,
 * because teams take turns for threads and nothing queues behind a busy database.
 */
class FairnessTest {
    private static final int FLOODED_DATABASES = 4;
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        keel = TestKeel.start("fairness", Map.of("keel.instances.pool.size", 0));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    @Test
    void oneTeamsFloodOfPlanChangesDoesNotDelayAnothersProvisionBeyondTwiceItsUnloadedTime() throws Exception {
        Api flooder = keel.newTeam("flooder-" + System.nanoTime());
        Api bystander = keel.newTeam("bystander-" + System.nanoTime());
        List<String> flooded = new ArrayList<>();
        for (int i = 0; i < FLOODED_DATABASES; i++) {
            flooded.add(flooder.post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id"));
        }
        flooded.forEach(flooder::awaitAvailable);
        long unloaded = Math.min(provisionMillis(bystander), provisionMillis(bystander));

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
        long loaded;
        try {
            while (accepted.get() < FLOODED_DATABASES) {
                Thread.sleep(50);
            }
            loaded = provisionMillis(bystander);
        } finally {
            flooding.set(false);
            flood.join();
        }
        System.out.printf("fairness: provision %d ms unloaded, %d ms while another team had %d plan changes accepted and %d refused"
                + " (409 while one was pending)%n", unloaded, loaded, accepted.get(), refused.get());
        assertThat(accepted.get()).isGreaterThanOrEqualTo(FLOODED_DATABASES);
        assertThat(loaded).isLessThanOrEqualTo(2 * unloaded);
        for (String id : flooded) {
            flooder.deprovision(id);
        }
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
