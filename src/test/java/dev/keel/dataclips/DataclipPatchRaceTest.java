package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.jooq.DSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.keel.catalog.schema.Tables.DATACLIPS;
import static dev.keel.catalog.schema.Tables.DATACLIP_VERSIONS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * PATCHes of one clip sent at once, half changing its SQL, half its parameter values: each is checked against what the
 * others left, so the clip never holds SQL using a parameter it has no value for (after which listing the team's clips
 * answered 422). Meanwhile the team's clips are listed without pause: each clip is read with its own newest version,
 * never values of one state with SQL of another.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipPatchRaceTest {
    private static final String ONE = "select {{a}}::int as a";
    private static final String TWO = "select {{a}}::int as a, {{b}}::int as b";
    private static final int THREADS = 8;
    private static final int ROUNDS = 20;

    private TestKeel keel;
    private Api api;
    private String database;

    @BeforeAll
    void provision(TestKeel keel) {
        this.keel = keel;
        api = keel.newTeam("patch-race-" + UUID.randomUUID().toString().substring(0, 8));
        database = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
    }

    @AfterAll
    void deprovision() {
        api.deprovision(database);
    }

    /**
     * Each round starts every thread's PATCH at once. In odd rounds the SQL threads add {{b}} (valid while the values hold
     * b) and the value threads drop b (valid while the SQL does not use it): from (ONE, a and b) either may win, not both.
     * Even rounds put (ONE, a and b) back. After every round the team's clips list and the clip is consistent.
     */
    @Test
    void patchesOfTheSqlAndOfTheValuesAtOnceNeverLeaveAParameterWithoutAValue() throws Exception {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"race\",\"database\":\"" + database + "\",\"sql\":"
                + Json.quote(ONE) + ",\"parameters\":{\"a\":\"1\",\"b\":\"2\"}}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String id = created.json().get("id").asText();
        List<String> broken = new CopyOnWriteArrayList<>();
        AtomicInteger round = new AtomicInteger();
        CyclicBarrier start = new CyclicBarrier(THREADS, () -> {
            String state = inconsistency(id);
            if (state != null) {
                broken.add("after round " + (round.get() - 1) + ": " + state);
            }
            round.incrementAndGet();
        });
        Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
        // A reader lists the team's clips throughout, while the PATCHes commit, not only between rounds.
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger listed = new AtomicInteger();
        List<String> listFailures = new CopyOnWriteArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
        Future<?> reader = pool.submit(() -> {
            while (writing.get()) {
                Api.Response list = api.get("/v1/dataclips");
                listed.incrementAndGet();
                if (list.status() != 200) {
                    listFailures.add(list.toString());
                }
            }
            return null;
        });
        try {
            List<Future<?>> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                boolean sqlThread = t % 2 == 0;
                threads.add(pool.submit(() -> {
                    for (int r = 0; r < ROUNDS; r++) {
                        start.await(Timeouts.REQUEST.toMillis(), TimeUnit.MILLISECONDS);
                        boolean race = r % 2 == 1;
                        String body = sqlThread ? "{\"sql\":" + Json.quote(race ? TWO : ONE) + "}"
                                : "{\"parameters\":" + (race ? "{\"a\":\"1\"}" : "{\"a\":\"1\",\"b\":\"2\"}") + "}";
                        Api.Response patched = api.patch("/v1/dataclips/" + id, body);
                        assertThat(patched.status()).as(patched.toString()).isIn(200, 202, 422, 429);
                        statuses.computeIfAbsent(patched.status(), s -> new AtomicInteger()).incrementAndGet();
                    }
                    start.await(Timeouts.REQUEST.toMillis(), TimeUnit.MILLISECONDS); // the last round's check
                    return null;
                }));
            }
            for (Future<?> thread : threads) {
                thread.get(Timeouts.REQUEST.toMillis() * (ROUNDS + 1), TimeUnit.MILLISECONDS);
            }
            writing.set(false);
            reader.get(Timeouts.REQUEST.toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            writing.set(false);
            pool.shutdownNow();
        }
        assertThat(listFailures).as("lists during the PATCHes, of " + listed.get()).isEmpty();
        assertThat(listed.get()).isPositive();
        assertThat(broken).as("statuses " + statuses).isEmpty();
        assertThat(round.get()).isEqualTo(ROUNDS + 1);
        // Conflicting PATCHes met: in a racing round the losing kind is refused, naming the parameter.
        assertThat(statuses.get(422)).as("statuses " + statuses).isNotNull();
        assertThat(statuses.get(200)).as("statuses " + statuses).isNotNull();
    }

    /** A clip of {@link #ONE} with its value for {@code a}, made through the API. */
    private UUID newClip(String title) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"" + title + "\",\"database\":\"" + database + "\",\"sql\":"
                + Json.quote(ONE) + ",\"parameters\":{\"a\":\"1\"}}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return UUID.fromString(created.json().get("id").asText());
    }

    /**
     * The interleaving the reader above may meet, made certain: a list that has begun waits on the versions table (locked
     * here) while the clip's values and SQL change in one commit, as a PATCH of the values and a PATCH of the SQL make in
     * turn. Read apart, the clip's row before the change and its version after it paired TWO with only a: 422.
     */
    @Test
    void aListWaitingOnAChangeReadsEachClipWithItsOwnNewestVersion() throws Exception {
        UUID id = newClip("listed");
        DSLContext catalog = keel.bean(DSLContext.class);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Api.Response> list = catalog.transactionResult(tx -> {
                tx.dsl().execute("lock table dataclip_versions in access exclusive mode");
                Future<Api.Response> listing = pool.submit(() -> api.get("/v1/dataclips"));
                awaitLockWaiter(catalog, listing);
                tx.dsl().update(DATACLIPS).set(DATACLIPS.PARAMETERS, "{\"a\":\"1\",\"b\":\"2\"}").where(DATACLIPS.ID.eq(id)).execute();
                tx.dsl().insertInto(DATACLIP_VERSIONS).set(DATACLIP_VERSIONS.ID, UUID.randomUUID()).set(DATACLIP_VERSIONS.DATACLIP_ID, id)
                        .set(DATACLIP_VERSIONS.NUMBER, 2).set(DATACLIP_VERSIONS.SQL, TWO).execute();
                return listing;
            });
            Api.Response listed = list.get(Timeouts.REQUEST.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(listed.status()).as(listed.toString()).isEqualTo(200);
            assertThat(inconsistency(id.toString())).isNull();
        } finally {
            pool.shutdownNow();
            api.delete("/v1/dataclips/" + id);
        }
    }

    /**
     * A PATCH that has read the clip and waits for its row lock while the clip is deleted (the lock held here, the row
     * deleted under it) finds no row to change: a 404, as for a clip deleted before, not a 500.
     */
    @Test
    void aPatchOfAClipDeletedWhileItWaitsIsNotFound() throws Exception {
        UUID id = newClip("deleted");
        DSLContext catalog = keel.bean(DSLContext.class);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Api.Response> patch = catalog.transactionResult(tx -> {
                tx.dsl().selectFrom(DATACLIPS).where(DATACLIPS.ID.eq(id)).forUpdate().fetch();
                Future<Api.Response> patching = pool.submit(() -> api.patch("/v1/dataclips/" + id, "{\"title\":\"renamed\"}"));
                awaitLockWaiter(catalog, patching, "select count(*)::int from pg_stat_activity where wait_event_type = 'Lock'"
                        + " and query like '%dataclips%for update%' and pid <> pg_backend_pid()");
                tx.dsl().deleteFrom(DATACLIPS).where(DATACLIPS.ID.eq(id)).execute();
                return patching;
            });
            Api.Response patched = patch.get(Timeouts.REQUEST.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(patched.status()).as(patched.toString()).isEqualTo(404);
            assertThat(patched.json().get("detail").asText()).isEqualTo("dataclip " + id + " not found");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Waits until a session of the catalog waits for a lock on dataclip_versions (the list), or the list has answered. */
    private static void awaitLockWaiter(DSLContext catalog, Future<?> listing) throws InterruptedException {
        awaitLockWaiter(catalog, listing, "select count(*)::int from pg_locks where relation = 'dataclip_versions'::regclass"
                + " and not granted");
    }

    /** Waits until {@code count} (a query of the catalog) counts a waiting session, or {@code request} has answered. */
    private static void awaitLockWaiter(DSLContext catalog, Future<?> request, String count) throws InterruptedException {
        long deadline = System.nanoTime() + Timeouts.REQUEST.toNanos();
        while (!request.isDone() && System.nanoTime() - deadline < 0) {
            if (catalog.fetchSingle(count).get(0, Integer.class) > 0) {
                return;
            }
            Thread.sleep(10); // a poll of a condition, bounded by the deadline
        }
    }

    /** What is wrong with the team's list and the clip in it, or null when the list answers 200 and the clip has its values. */
    private String inconsistency(String id) {
        Api.Response list = api.get("/v1/dataclips");
        if (list.status() != 200) {
            return "the list answered " + list;
        }
        for (JsonNode clip : list.json()) {
            if (clip.get("id").asText().equals(id)) {
                String sql = clip.get("sql").asText();
                JsonNode parameters = clip.get("parameters");
                boolean consistent = sql.equals(ONE) && parameters.has("a") || sql.equals(TWO) && parameters.has("a") && parameters.has("b");
                return consistent ? null : "the clip holds " + sql + " with " + parameters;
            }
        }
        return "the clip is not listed: " + list;
    }
}
