package dev.keel.dataclips;

import dev.keel.catalog.AdvisoryLock;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.context.env.Environment;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A link's limit on its clip's runs ({@code keel.dataclips.link-runs}) holds against requests that arrive together: it
 * is counted under the team's run lock, in the transaction that records the run, so that they cannot all pass it; and a
 * run is dated on the clock of that count once it holds the lock.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipLinkRunsTest {
    /** The link limit of the nodes below: below the team's own limits (2 running, 8 waiting, 60 a minute), which would hide it. */
    private static final int LINK_RUNS = 3;
    private static final int NODES = 6;

    private TestKeel keel;
    private Api api;
    private String database;

    @BeforeAll
    void provision(TestKeel keel) {
        this.keel = keel;
        this.api = keel.newTeam("link-runs-" + UUID.randomUUID().toString().substring(0, 8));
        this.database = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
    }

    @AfterAll
    void deprovision() {
        api.deprovision(database);
    }

    /**
     * Six nodes (each its own {@link ClipRuns} on the shared Keel's catalog and database, with no run under way to join)
     * open one link at once, its stored result stale; all six find the clip's runs of the last minute below the limit
     * while the test holds the team's run lock, and wait for it. Once it is free, three start a run and the others serve
     * the stale result: the check is made again where the run is recorded.
     */
    @Test
    void linkRequestsArrivingTogetherStartNoMoreRunsThanTheLinkMay() throws Exception {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"together\",\"database\":\"" + database
                + "\",\"sql\":\"select {{n}}::int as n\",\"parameters\":{\"n\":\"0\"}}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        UUID id = UUID.fromString(created.field("id"));
        String stale = created.json().get("result").get("id").asText();
        Dataclip clip = keel.bean(DataclipRepository.class).find(id).orElseThrow();
        Environment config = keel.bean(Environment.class);
        Duration freshFor = config.getRequiredProperty("keel.dataclips.fresh-for", Duration.class);
        Dataclips dataclips = keel.bean(Dataclips.class);
        ClipText.Prepared prepared = ClipText.prepare(clip.version().sql());
        Map<String, String> values = Dataclips.values(prepared, clip.parameters(), Map.of());
        List<ClipRuns> nodes = new ArrayList<>();
        ExecutorService requests = Executors.newFixedThreadPool(NODES);
        try (Connection catalog = Footprint.catalog(keel.dataDir())) {
            // The clip's first result two minutes old: stale, and out of the minute's count.
            try (PreparedStatement age = catalog.prepareStatement("update dataclip_results set started_at = started_at - interval '2 minutes',"
                    + " finished_at = finished_at - interval '2 minutes' where dataclip_id = ?")) {
                age.setObject(1, id);
                assertThat(age.executeUpdate()).isEqualTo(1);
            }
            for (int i = 0; i < NODES; i++) {
                nodes.add(new ClipRuns(keel.bean(ClipRunner.class), keel.bean(ResultRepository.class), 1,
                        config.getRequiredProperty("keel.dataclips.team-concurrency", Integer.class),
                        config.getRequiredProperty("keel.dataclips.team-queue", Integer.class),
                        config.getRequiredProperty("keel.dataclips.team-runs-per-minute", Integer.class),
                        config.getRequiredProperty("keel.dataclips.wait", Duration.class), freshFor, LINK_RUNS,
                        keel.bean(ThisNode.class), keel.bean(Placement.class)));
            }
            catalog.setAutoCommit(false);
            AdvisoryLock.acquireTeamRuns(DSL.using(catalog, SQLDialect.POSTGRES), clip.teamId());
            List<CompletableFuture<Optional<ClipResult>>> served = new ArrayList<>();
            for (ClipRuns node : nodes) {
                served.add(CompletableFuture.supplyAsync(() -> node.fresh(clip, () -> dataclips.database(clip), prepared, values), requests));
            }
            Wait.until("the link's " + NODES + " requests to wait for the team's run lock", Timeouts.REQUEST,
                    () -> waitingForMyLock(catalog) == NODES);
            catalog.commit();
            catalog.setAutoCommit(true);
            List<String> results = new ArrayList<>();
            for (CompletableFuture<Optional<ClipResult>> answer : served) {
                results.add(answer.join().orElseThrow().id().toString());
            }
            assertThat(results.stream().filter(stale::equals)).as("requests served the stale result").hasSize(NODES - LINK_RUNS);
            assertThat(results.stream().filter(r -> !r.equals(stale)).distinct()).as("runs started").hasSize(LINK_RUNS);
            try (PreparedStatement count = catalog.prepareStatement("select count(*) from dataclip_results where dataclip_id = ?")) {
                count.setObject(1, id);
                try (ResultSet rows = count.executeQuery()) {
                    assertThat(rows.next()).isTrue();
                    assertThat(rows.getInt(1)).as("runs recorded, the first one's included").isEqualTo(1 + LINK_RUNS);
                }
            }
        } finally {
            requests.shutdownNow();
            nodes.forEach(ClipRuns::stop);
        }
    }

    /**
     * A run is dated when it is recorded, on the statement clock its link's count reads, not when its transaction began:
     * one that waited for the team's run lock would otherwise be dated before the wait and fall out of the minute's count
     * early, letting the link start more runs than it may.
     */
    @Test
    void aRunThatWaitedForTheTeamsRunLockIsDatedWhenItGotIt() throws Exception {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"dated\",\"database\":\"" + database
                + "\",\"sql\":\"select 1 as n\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        Dataclip clip = keel.bean(DataclipRepository.class).find(UUID.fromString(created.field("id"))).orElseThrow();
        ResultRepository results = keel.bean(ResultRepository.class);
        ThisNode node = keel.bean(ThisNode.class);
        ExecutorService request = Executors.newSingleThreadExecutor();
        CompletableFuture<ClipResult> started = null;
        try (Connection catalog = Footprint.catalog(keel.dataDir())) {
            catalog.setAutoCommit(false);
            AdvisoryLock.acquireTeamRuns(DSL.using(catalog, SQLDialect.POSTGRES), clip.teamId());
            started = CompletableFuture.supplyAsync(() -> results.start(clip.teamId(), clip.id(), clip.version().id(), "{}", node.name(),
                    node.lost(), running -> { }, new TeamRunRate(60), null), request);
            Wait.until("the run to wait for the team's run lock", Timeouts.REQUEST, () -> waitingForMyLock(catalog) == 1);
            OffsetDateTime waiterBegan = timestamp(catalog, "select a.xact_start from pg_catalog.pg_stat_activity a join pg_catalog.pg_locks w"
                    + " on w.pid = a.pid join pg_catalog.pg_locks h on h.locktype = 'advisory' and h.granted"
                    + " and h.pid = pg_catalog.pg_backend_pid() and w.classid = h.classid and w.objid = h.objid"
                    + " and w.objsubid = h.objsubid where w.locktype = 'advisory' and not w.granted");
            OffsetDateTime released = timestamp(catalog, "select pg_catalog.clock_timestamp()");
            catalog.commit();
            ClipResult run = started.join();
            assertThat(waiterBegan).as("the run's transaction began before the lock was free").isBefore(released);
            assertThat(run.startedAt().toInstant()).as("the run's started_at").isAfterOrEqualTo(released.toInstant());
        } finally {
            // The catalog session is closed by now, and the lock with it: the run ends either way.
            ClipResult run = started == null ? null : started.handle((result, failed) -> result).join();
            if (run != null) {
                results.delete(run.id());
            }
            request.shutdownNow();
        }
    }

    private static OffsetDateTime timestamp(Connection catalog, String sql) throws SQLException {
        try (PreparedStatement read = catalog.prepareStatement(sql); ResultSet rows = read.executeQuery()) {
            assertThat(rows.next()).as(sql).isTrue();
            return rows.getObject(1, OffsetDateTime.class);
        }
    }

    /** Sessions waiting for the advisory lock that {@code holder}'s session holds. */
    private static int waitingForMyLock(Connection holder) {
        try (PreparedStatement waiting = holder.prepareStatement("select count(*) from pg_catalog.pg_locks w join pg_catalog.pg_locks h"
                + " on h.locktype = 'advisory' and h.granted and h.pid = pg_catalog.pg_backend_pid() and w.classid = h.classid"
                + " and w.objid = h.objid and w.objsubid = h.objsubid where w.locktype = 'advisory' and not w.granted");
             ResultSet rows = waiting.executeQuery()) {
            rows.next();
            return rows.getInt(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }
}
