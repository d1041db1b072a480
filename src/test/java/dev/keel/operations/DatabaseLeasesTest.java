package dev.keel.operations;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.LogCapture;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.keel.catalog.schema.Tables.DATABASE_LEASES;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * One actor per database, on the real catalog: one holder at a time however many race for it, an
 * expired lease passes to the next, a lease is renewed while held and a lost one is neither
 * renewed nor released over its new holder, and an operation, or a settings change a client waits
 * on, waits while another actor holds its database, then runs.
 */
@ExtendWith(SharedKeel.class)
class DatabaseLeasesTest {
    @Test
    void oneActorAtATimeHoldsADatabase(TestKeel keel) throws Exception {
        DatabaseLeases leases = keel.bean(DatabaseLeases.class);
        UUID database = UUID.randomUUID();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Optional<DatabaseLeases.Lease>>> racers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String actor = "racer " + i;
                Callable<Optional<DatabaseLeases.Lease>> race = () -> {
                    start.await();
                    return leases.tryAcquire(database, actor);
                };
                racers.add(pool.submit(race));
            }
            start.countDown();
            List<DatabaseLeases.Lease> won = new ArrayList<>();
            for (Future<Optional<DatabaseLeases.Lease>> racer : racers) {
                racer.get().ifPresent(won::add);
            }
            assertThat(won).hasSize(1);
            assertThat(leases.holder(database)).contains(won.get(0).toString().replace(" on database " + database, ""));
            assertThat(leases.tryAcquire(database, "a latecomer")).isEmpty();
            won.get(0).close();
            assertThat(leases.holder(database)).isEmpty();
            try (DatabaseLeases.Lease next = leases.tryAcquire(database, "a latecomer").orElseThrow()) {
                assertThat(next.databaseId()).isEqualTo(database);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anExpiredLeasePassesOnAndTheOldHolderNeitherRenewsNorReleasesIt(TestKeel keel) {
        DatabaseLeases leases = keel.bean(DatabaseLeases.class);
        DSLContext catalog = keel.bean(DSLContext.class);
        UUID database = UUID.randomUUID();
        DatabaseLeases.Lease first = leases.tryAcquire(database, "a node that stopped renewing").orElseThrow();
        OffsetDateTime before = expiry(catalog, database);
        leases.renew();
        assertThat(expiry(catalog, database)).isAfterOrEqualTo(before);

        // Its holder went silent (a node killed, a catalog out of reach) until the lease ran out.
        catalog.update(DATABASE_LEASES).set(DATABASE_LEASES.EXPIRES_AT, DSL.currentOffsetDateTime().minus(1))
                .where(DATABASE_LEASES.DATABASE_ID.eq(database)).execute();
        assertThat(leases.holder(database)).isEmpty();
        DatabaseLeases.Lease second = leases.tryAcquire(database, "the next actor").orElseThrow();
        leases.renew();
        first.close();
        assertThat(leases.holder(database)).hasValueSatisfying(h -> assertThat(h).endsWith("/the next actor"));
        second.close();
        assertThat(leases.holder(database)).isEmpty();
    }

    @Test
    void anOperationWaitsWhileAnotherActorHoldsItsDatabaseThenRuns(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode db = api.provision("{\"plan\":\"essential-0\"}");
        UUID database = UUID.fromString(db.get("id").asText());
        DatabaseLeases leases = keel.bean(DatabaseLeases.class);
        String operation;
        // Taken once free: a new database's first backup holds its lease for a moment.
        try (LogCapture log = new LogCapture(OperationRunner.class);
             DatabaseLeases.Lease other = Wait.until("the new database's lease to be free", Duration.ofSeconds(60),
                     () -> leases.tryAcquire(database, "a test standing for the HA monitor"))) {
            Api.Response change = api.patch("/v1/databases/" + database, "{\"plan\":\"standard-0\"}");
            assertThat(change.status()).as(change.toString()).isEqualTo(202);
            operation = change.json().get("progress").get("operation_id").asText();
            Wait.until("the plan change to have tried and stepped aside", Duration.ofSeconds(10), () -> log.lines().stream()
                    .anyMatch(l -> l.startsWith("Operation plan_change waits: ") && l.contains("/a test standing for the HA monitor")));
            JsonNode waiting = api.get("/v1/operations/" + operation).json();
            assertThat(waiting.get("state").asText()).isEqualTo("running");
            assertThat(waiting.get("step_code").asText()).isEqualTo("announced");
        }
        JsonNode done = Wait.until("the plan change to run once the lease is free", Duration.ofSeconds(60), () -> {
            JsonNode op = api.get("/v1/operations/" + operation).json();
            return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
        });
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("step_code").asText()).isEqualTo("done");
        // The runner lets the lease go before it records the end: whoever sees the change ended finds the database free.
        assertThat(leases.holder(database)).isEmpty();

        // A settings change (standard plans have them) is a change to the database's server like any other: while another
        // actor keeps the lease past the change's patience, it is refused with nothing changed, in the catalog or the server.
        String config = "/postgres/v0/databases/" + db.get("name").asText() + "/config";
        String url = api.get("/v1/databases/" + database).field("url");
        try (DatabaseLeases.Lease other = Wait.until("the lease to be free", Duration.ofSeconds(60),
                () -> leases.tryAcquire(database, "a test standing for a plan change"))) {
            Api.Response refused = api.patch(config, "{\"log_statement\":\"ddl\"}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(409);
            assertThat(refused.text()).contains("is busy").contains("/a test standing for a plan change")
                    .contains("nothing was changed");
            assertThat(api.get(config).json().get("log_statement").get("value").asText()).isEqualTo("none");
            assertThat(setting(url, keel, "log_statement")).isEqualTo("none");
        }
        // Let go while a change waits for it: the change then goes through, and the server has it.
        DatabaseLeases.Lease held = Wait.until("the lease to be free", Duration.ofSeconds(60),
                () -> leases.tryAcquire(database, "a test standing for the HA monitor"));
        Thread release = new Thread(() -> {
            try {
                Thread.sleep(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            held.close();
        });
        release.start();
        Api.Response applied = api.patch(config, "{\"log_statement\":\"ddl\"}");
        release.join();
        assertThat(applied.status()).as(applied.toString()).isEqualTo(200);
        assertThat(applied.json().get("log_statement").get("value").asText()).isEqualTo("ddl");
        assertThat(setting(url, keel, "log_statement")).isEqualTo("ddl");
        api.deprovision(database.toString());
    }

    private static String setting(String url, TestKeel keel, String name) throws Exception {
        try (Connection connection = Pg.connect(url, keel.caFile())) {
            return Pg.scalar(connection, "show " + name);
        }
    }

    private static OffsetDateTime expiry(DSLContext catalog, UUID database) {
        return catalog.select(DATABASE_LEASES.EXPIRES_AT).from(DATABASE_LEASES).where(DATABASE_LEASES.DATABASE_ID.eq(database))
                .fetchSingle(DATABASE_LEASES.EXPIRES_AT);
    }
}
