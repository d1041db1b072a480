package dev.keel.pooling;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.security.auth.module.UnixSystem;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * PgBouncer in front of a database: 500 clients share a plan of 120 connections, a credential
 * rotated while they run works through the pool, the pool follows a switchover, a hostile owner
 * cannot reach the auth function, and the pooler stops with its last attachment.
 */
@ExtendWith(SharedKeel.class)
class ConnectionPoolingTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pgbouncer");
    }

    private static final int CLIENTS = 500;
    private static final int TRANSACTIONS = 4;

    @Test
    void fiveHundredClientsShareThePlansConnectionsAndARotatedCredentialWorksThroughThePool(TestKeel keel) throws Exception {
        Api api = keel.newTeam("pool-" + System.nanoTime());
        assertThat(api.post("/v1/apps", "{\"name\":\"web\"}").status()).isEqualTo(201);
        assertThat(api.post("/v1/apps", "{\"name\":\"jobs\"}").status()).isEqualTo(201);
        String id = api.provision("{\"plan\":\"standard-0\"}").get("id").asText();
        String essential = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        try {
            Api.Response refused = api.post("/v1/apps/web/attachments", "{\"database\":\"" + essential + "\",\"pooled\":true}");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(422);
            assertThat(refused.field("detail")).contains("not available on essential plans");

            Api.Response attached = api.post("/v1/apps/web/attachments", "{\"database\":\"" + id + "\",\"pooled\":true}");
            assertThat(attached.status()).as(attached.toString()).isEqualTo(201);
            assertThat(attached.field("name")).isEqualTo("DATABASE_CONNECTION_POOL");
            assertThat(api.post("/v1/apps/web/attachments", "{\"database\":\"" + id + "\"}").status()).isEqualTo(201);
            JsonNode vars = api.get("/v1/apps/web/config-vars").json();
            String direct = vars.get("DATABASE_URL").asText();
            String pooled = vars.get("DATABASE_CONNECTION_POOL_URL").asText();
            assertThat(Pg.port(pooled)).isNotEqualTo(Pg.port(direct));
            Api.Response shown = api.get("/v1/databases/" + id + "/connection-pooling");
            assertThat(shown.status()).as(shown.toString()).isEqualTo(200);
            JsonNode stats = shown.json();
            assertThat(stats.get("pool_size").asInt()).isEqualTo(90);
            assertThat(stats.get("pool_mode").asText()).isEqualTo("transaction");
            assertThat(api.get("/v1/databases/" + id + "/info").text()).contains("Connection Pooling");
            // PgBouncer runs as the unprivileged server account, never as Keel's root.
            String pid = Files.readString(keel.serverDir().resolve("poolers").resolve(id).resolve("pgbouncer.pid")).strip();
            String uid = Files.readAllLines(Path.of("/proc", pid, "status")).stream().filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow();
            if (new UnixSystem().getUid() == 0) {
                assertThat(uid.split("\\s+")[1]).isNotEqualTo("0");
            }
            // Killed, it is started again within a few seconds.
            ProcessHandle.of(Long.parseLong(pid)).orElseThrow().destroyForcibly();
            Wait.until("the pooler to be started again", Timeouts.POOL_FOLLOW, () -> {
                try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
                    return Pg.scalar(connection, "select 1").equals("1");
                } catch (SQLException e) {
                    return false;
                }
            });
            try (Connection owner = Pg.connect(direct, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table hits (client int, n int)");
            }

            ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
            CountDownLatch connected = new CountDownLatch(CLIENTS);
            CountDownLatch rotated = new CountDownLatch(1);
            AtomicInteger serverConnections = new AtomicInteger();
            AtomicBoolean running = new AtomicBoolean(true);
            List<Future<?>> clients = new ArrayList<>();
            try {
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    clients.add(threads.submit(() -> {
                        try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
                            connected.countDown();
                            rotated.await();
                            for (int n = 1; n <= TRANSACTIONS; n++) {
                                try (Statement sql = connection.createStatement()) {
                                    sql.execute("insert into hits values (" + client + ", " + n + ")");
                                }
                            }
                        }
                        return null;
                    }));
                }
                assertThat(connected.await(Timeouts.POOL_RUN.toSeconds(), TimeUnit.SECONDS)).as("500 clients connected").isTrue();
                // /metrics carries the pool's figures: its size, and the 500 clients it serves now.
                String name = api.get("/v1/databases/" + id).field("name");
                Wait.until("/metrics to count the pool's 500 clients", Timeouts.POOL_FOLLOW,
                        () -> poolSeries(keel, name, "keel_database_pool_clients", "active") >= CLIENTS);
                assertThat(poolSeries(keel, name, "keel_database_pool_size", null)).isEqualTo(90.0);
                assertThat(poolSeries(keel, name, "keel_database_pool_clients", "waiting")).isGreaterThanOrEqualTo(0.0);
                assertThat(poolSeries(keel, name, "keel_database_pool_servers", "idle")).isGreaterThanOrEqualTo(0.0);
                Api.Response rotation = api.post("/v1/databases/" + id + "/credentials/default/rotate", "{}");
                assertThat(rotation.status()).as(rotation.toString()).isEqualTo(200);
                rotated.countDown();
                try (Connection owner = Pg.connect(api.get("/v1/apps/web/config-vars").json().get("DATABASE_URL").asText(), keel.caFile());
                     Statement sql = owner.createStatement()) {
                    while (running.get() && clients.stream().anyMatch(f -> !f.isDone())) {
                        int now = Integer.parseInt(Pg.scalar(owner, "select count(*) from pg_stat_activity where datname = current_database()"
                                + " and backend_type = 'client backend' and pid <> pg_backend_pid()"));
                        serverConnections.accumulateAndGet(now, Math::max);
                    }
                }
                for (Future<?> client : clients) {
                    client.get(Timeouts.POOL_RUN.toSeconds(), TimeUnit.SECONDS);
                }
            } finally {
                running.set(false);
                threads.shutdownNow();
            }
            String rotatedPooled = api.get("/v1/apps/web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
            try (Connection connection = Pg.connectPooled(rotatedPooled, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from hits")).isEqualTo(Integer.toString(CLIENTS * TRANSACTIONS));
            }
            // The pooler's own server connections (its pool and its auth_query session) stay within the plan's 120.
            assertThat(serverConnections.get()).isBetween(1, 90 + 1);
            assertLoginRefused(keel, pooled);

            Api.Response again = api.post("/v1/apps/jobs/attachments", "{\"database\":\"" + id + "\",\"pooled\":true,\"as\":\"REPORTING\"}");
            assertThat(again.status()).as(again.toString()).isEqualTo(201);
            assertThat(Pg.port(api.get("/v1/apps/jobs/config-vars").json().get("REPORTING_URL").asText())).isEqualTo(Pg.port(pooled));
            assertThat(api.delete("/v1/apps/web/attachments/DATABASE_CONNECTION_POOL").status()).isEqualTo(204);
            assertThat(api.get("/v1/databases/" + id + "/connection-pooling").status()).isEqualTo(200);
            assertThat(api.delete("/v1/apps/jobs").status()).isEqualTo(204);
            assertThat(api.get("/v1/databases/" + id + "/connection-pooling").status()).isEqualTo(404);
            assertThatThrownBy(() -> Pg.connectPooled(rotatedPooled, keel.caFile()).close()).isInstanceOf(SQLException.class);
            assertThat(keel.serverDir().resolve("poolers").resolve(id)).doesNotExist();
        } finally {
            api.deprovision(id);
            api.deprovision(essential);
        }
    }

    @Test
    void aHostileOwnerCannotReachOrReplaceTheAuthFunctionAndKeelsRolesCannotLogInThroughThePool(TestKeel keel) throws Exception {
        Api api = keel.newTeam("pool-hostile-" + System.nanoTime());
        assertThat(api.post("/v1/apps", "{\"name\":\"web\"}").status()).isEqualTo(201);
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String id = db.get("id").asText();
        String direct = db.get("url").asText();
        try {
            try (Connection owner = Pg.connect(direct, keel.caFile()); Statement sql = owner.createStatement()) {
                // Squats the schema name before the pool exists, with a lookup that would let anyone in as anyone.
                sql.execute("create schema keel_pool");
                sql.execute("create function keel_pool.lookup(i_username text, out usename name, out passwd text) returns setof record"
                        + " language sql as $$ select i_username::name, null::text $$");
                sql.execute("alter database " + Pg.database(direct) + " set search_path = public, pg_catalog");
            }
            assertThat(api.post("/v1/apps/web/attachments", "{\"database\":\"" + id + "\",\"pooled\":true}").status()).isEqualTo(201);
            String pooled = api.get("/v1/apps/web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
            try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select current_user")).isEqualTo(Pg.user(direct));
            }
            try (Connection owner = Pg.connect(direct, keel.caFile()); Statement sql = owner.createStatement()) {
                assertThat(Pg.scalar(owner, "select count(*) from pg_namespace where nspname like 'keel_pool_not_keels_%'")).isEqualTo("1");
                for (String attack : List.of("select * from keel_pool.lookup('keel')", "create table keel_pool.t (n int)",
                        "create or replace function keel_pool.lookup(i_username text, out usename name, out passwd text)"
                                + " returns setof record language sql as $$ select null::name, null::text $$",
                        "drop schema keel_pool cascade", "alter role keel_pooler set search_path = public")) {
                    assertThatThrownBy(() -> sql.execute(attack)).as(attack)
                            .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
                }
            }
            // Keel's own roles are not served by the lookup, whatever password is tried.
            for (String role : List.of("keel", "keel_pooler", "postgres")) {
                String as = pooled.replaceFirst("postgres://[^:]+:[^@]+@", "postgres://" + role + ":wrong@");
                assertLoginRefused(keel, as);
            }
        } finally {
            api.deprovision(id);
        }
    }

    @Test
    void thePoolFollowsASwitchoverToTheStandby(TestKeel keel) throws Exception {
        Api api = keel.newTeam("pool-ha-" + System.nanoTime());
        assertThat(api.post("/v1/apps", "{\"name\":\"web\"}").status()).isEqualTo(201);
        String id = api.provision("{\"plan\":\"premium-0\"}").get("id").asText();
        try {
            ArchiveWaits.awaitInitialBackup(api, id);
            Wait.until("the HA standby to be available", Timeouts.STANDBY,
                    () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));
            assertThat(api.post("/v1/apps/web/attachments", "{\"database\":\"" + id + "\",\"pooled\":true}").status()).isEqualTo(201);
            String pooled = api.get("/v1/apps/web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText();
            int before = serverPort(keel, pooled);
            assertThat(before).isEqualTo(Pg.port(api.get("/v1/databases/" + id).field("url")));

            Api.Response switched = api.post("/v1/databases/" + id + "/failover", "");
            assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
            JsonNode done = Wait.until("the switchover to finish", Timeouts.POOL_RUN, () -> {
                JsonNode op = api.get("/v1/operations/" + switched.field("operation_id")).json();
                return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
            });
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
            int after = Pg.port(api.get("/v1/databases/" + id).field("url"));
            assertThat(after).isNotEqualTo(before);
            assertThat(api.get("/v1/apps/web/config-vars").json().get("DATABASE_CONNECTION_POOL_URL").asText()).isEqualTo(pooled);
            Wait.until("the pool to reach the new primary", Timeouts.POOL_FOLLOW, () -> {
                try {
                    return serverPort(keel, pooled) == after;
                } catch (SQLException e) {
                    return false;
                }
            });
            try (Connection connection = Pg.connectPooled(pooled, keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table after_switchover (n int)");
            }
        } finally {
            api.deprovision(id);
        }
    }

    /** PgBouncer refuses the login: a wrong password, or a role its auth_query does not serve ("no such user"). */
    /** The value of a pool series of {@code database} in a scrape of /metrics (with that {@code state}), or -1 when absent. */
    private static double poolSeries(TestKeel keel, String database, String series, String state) {
        Pattern line = Pattern.compile("(?m)^" + series + "\\{([^}]*)\\} (\\S+)$");
        Matcher found = line.matcher(keel.api().withKey(null).get("/metrics").text());
        while (found.find()) {
            String labels = found.group(1);
            if (labels.contains("database=\"" + database + "\"") && (state == null || labels.contains("state=\"" + state + "\""))) {
                return Double.parseDouble(found.group(2));
            }
        }
        return -1;
    }

    private static void assertLoginRefused(TestKeel keel, String pooled) {
        assertThatThrownBy(() -> Pg.connectPooled(pooled, keel.caFile()).close()).isInstanceOfSatisfying(SQLException.class,
                e -> assertThat(e.getMessage()).containsAnyOf("authentication failed", "no such user"));
    }

    /** The port of the server a pooled session lands on. */
    private static int serverPort(TestKeel keel, String pooled) throws SQLException {
        try (Connection connection = Pg.connectPooled(pooled, keel.caFile())) {
            return Integer.parseInt(Pg.scalar(connection, "select inet_server_port()"));
        }
    }
}
