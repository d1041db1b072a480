package dev.keel.metrics;

import dev.keel.DaemonThreads;
import dev.keel.postgres.ServerSession;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.archive.WalReceivers;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.instances.MonitoringSessions;
import dev.keel.instances.SpooledWal;
import dev.keel.operations.OperationKind;
import dev.keel.pooling.PoolFigures;
import dev.keel.replication.HaMonitor;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The per-database series of {@code /metrics}, the set CloudNativePG's exporter gives: up,
 * connections by state, size, transaction-ID age, replication lag per follower and standby,
 * archive lag with the last archived time and failure, the newest backup's age and the first
 * recoverability point, HA status and failovers. They are read when a scrape asks and the last
 * reading is older than {@code keel.metrics.refresh}: the catalog in a few queries over all
 * databases, each server through its kept {@link MonitoringSessions} session (no login per
 * database per scrape), a few servers at a time.
 */
@Singleton
final class DatabaseMetrics {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseMetrics.class);
    private static final int PARALLEL = 4;
    /** How long a scrape waits for the poolers' figures. */
    private static final Duration POOL_PATIENCE = Duration.ofSeconds(5);

    private final MetricsRepository repository;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final MonitoringSessions sessions;
    private final DatabaseLookup databases;
    private final HaMonitor ha;
    private final WalReceivers receivers;
    private final PoolFigures pools;
    private final Duration refresh;
    private final ExecutorService readers;
    private final Map<String, MultiGauge> gauges = new HashMap<>();
    private final MeterRegistry registry;
    private Instant readAt = Instant.EPOCH;
    private Future<Map<UUID, PoolFigures.Figures>> poolReads;

    DatabaseMetrics(MetricsRepository repository, InstanceRepository instances, InstanceRuntime runtime, MonitoringSessions sessions,
                    DatabaseLookup databases, HaMonitor ha, WalReceivers receivers, PoolFigures pools, MeterRegistry registry,
                    @Value("${keel.metrics.refresh}") Duration refresh) {
        this.repository = repository;
        this.instances = instances;
        this.runtime = runtime;
        this.sessions = sessions;
        this.databases = databases;
        this.ha = ha;
        this.receivers = receivers;
        this.pools = pools;
        this.registry = registry;
        this.refresh = refresh;
        this.readers = Executors.newFixedThreadPool(PARALLEL, DaemonThreads.numbered("keel-metrics"));
    }

    /** Reads every database's figures again, unless the last reading is fresh enough. */
    synchronized void refresh() {
        Instant now = Instant.now();
        if (Duration.between(readAt, now).compareTo(refresh) < 0) {
            return;
        }
        Series series = new Series();
        List<MetricsRepository.Row> rows = repository.databases();
        Map<UUID, MetricsRepository.BackupTimes> backups = repository.completedBackups();
        Map<UUID, Integer> failovers = repository.failovers();
        Map<UUID, String> archiveStates = repository.archiveStates();
        Map<UUID, Instance> primaries = new HashMap<>();
        Set<UUID> live = new HashSet<>();
        for (Instance instance : instances.all()) {
            if (instance.databaseId() != null && instance.role() == InstanceRole.PRIMARY) {
                primaries.put(instance.databaseId(), instance);
            }
            live.add(instance.id());
        }
        Map<String, String> namesBySlotId = new HashMap<>();
        rows.forEach(row -> namesBySlotId.put(row.id().toString().replace("-", ""), row.name()));

        // The poolers are read beside the servers; a reading still under way (a pooler that does not answer) is not asked
        // again, and its figures wait for a later scrape rather than holding this one.
        if (poolReads == null || poolReads.isDone()) {
            poolReads = readers.submit(pools::all);
        }
        List<Future<Optional<ServerSession.ServerStats>>> reads = new ArrayList<>();
        for (MetricsRepository.Row row : rows) {
            Instance primary = primaries.get(row.id());
            reads.add(readers.submit(() -> read(row, primary)));
        }
        for (int i = 0; i < rows.size(); i++) {
            MetricsRepository.Row row = rows.get(i);
            Tags tags = DatabaseLabels.of(row.name(), row.team(), row.plan());
            Optional<ServerSession.ServerStats> stats = await(reads.get(i));
            series.add("keel.database.up", "Whether the database's primary server answers (1) or not (0)", null, tags,
                    stats.isPresent() ? 1 : 0);
            series.add("keel.database.available", "Whether the database is in state available", null, tags,
                    "available".equals(row.state()) ? 1 : 0);
            stats.ifPresent(s -> serverSeries(series, tags, s, namesBySlotId, now));
            Instance primary = primaries.get(row.id());
            if (primary != null && row.leaderId() == null) {
                List<SpooledWal> spooled = runtime.spooledWal(primary);
                series.add("keel.database.archive.lag", "How long the oldest WAL file waiting for upload has waited", "seconds", tags,
                        spooled.isEmpty() ? 0 : Duration.between(spooled.get(0).completedAt(), now).toMillis() / 1000.0);
                series.add("keel.database.archive.waiting", "WAL files waiting in the spool for upload", "files", tags, spooled.size());
                receivers.figures(row.id(), now).ifPresent(f -> {
                    series.add("keel.database.archive.stream.lag", "Age of the oldest WAL the primary has that the WAL receiver has not"
                            + " put in the object store", "seconds", tags, f.lagSeconds());
                    series.add("keel.database.archive.stream.connected", "Whether the WAL receiver streams from the primary", null, tags,
                            f.connected() ? 1 : 0);
                });
                String state = archiveStates.getOrDefault(row.id(), "ok");
                series.add("keel.database.archive.failing", "Whether archiving is failing or stopped on a conflict", null, tags,
                        "ok".equals(state) ? 0 : 1);
            }
            MetricsRepository.BackupTimes times = backups.get(row.id());
            if (times != null) {
                series.add("keel.database.backup.last.age", "Age of the newest completed base backup", "seconds", tags,
                        Duration.between(times.newest(), now).toSeconds());
                series.add("keel.database.first.recoverability.point", "When the oldest completed base backup finished (Unix time)",
                        "seconds", tags, times.oldest().getEpochSecond());
            }
            series.add("keel.database.failovers", "Failovers and switchovers completed", null, tags, failovers.getOrDefault(row.id(), 0));
            if ("available".equals(row.state())) {
                haSeries(series, tags, row);
            }
        }
        Map<UUID, PoolFigures.Figures> poolFigures = awaitPools(poolReads);
        for (MetricsRepository.Row row : rows) {
            PoolFigures.Figures pool = poolFigures.get(row.id());
            if (pool != null) {
                poolSeries(series, DatabaseLabels.of(row.name(), row.team(), row.plan()), pool);
            }
        }
        Map<String, Integer> running = new HashMap<>();
        repository.running().forEach(r -> running.put(r.kind(), r.count()));
        for (OperationKind kind : OperationKind.values()) {
            series.add("keel.operations.running", "Operations running now, by kind", null, Tags.of("kind", kind.value()),
                    running.getOrDefault(kind.value(), 0));
        }
        series.publish();
        sessions.sweep(live);
        readAt = Instant.now();
    }

    private Optional<ServerSession.ServerStats> read(MetricsRepository.Row row, Instance primary) {
        if (primary == null || primary.state() != InstanceState.RUNNING || !"available".equals(row.state())) {
            return Optional.empty();
        }
        try {
            return Optional.of(sessions.with(primary, session -> session.serverStats(row.pgDatabase(), row.leaderId() == null)));
        } catch (SQLException e) {
            LOG.debug("Could not read the statistics of {}", row.name(), e);
            return Optional.empty();
        }
    }

    private static Optional<ServerSession.ServerStats> await(Future<Optional<ServerSession.ServerStats>> read) {
        try {
            return read.get();
        } catch (Exception e) {
            return Optional.empty();
        }
    }

    private static Map<UUID, PoolFigures.Figures> awaitPools(Future<Map<UUID, PoolFigures.Figures>> read) {
        try {
            return read.get(POOL_PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.debug("The poolers' figures are not read yet; this scrape goes without them");
            return Map.of();
        } catch (Exception e) {
            LOG.debug("Could not read the poolers' figures", e);
            return Map.of();
        }
    }

    /** A database's PgBouncer (pg:connection-pooling): its size, its clients, and the server connections it holds. */
    private static void poolSeries(Series series, Tags tags, PoolFigures.Figures pool) {
        series.add("keel.database.pool.size", "Server connections the database's connection pool may open", null, tags, pool.poolSize());
        series.add("keel.database.pool.clients", "Clients of the connection pool: served (active) and waiting for a server connection",
                null, tags.and("state", "active"), pool.clientsActive());
        series.add("keel.database.pool.clients", null, null, tags.and("state", "waiting"), pool.clientsWaiting());
        series.add("keel.database.pool.servers", "Server connections the connection pool holds, by state", null,
                tags.and("state", "active"), pool.serversActive());
        series.add("keel.database.pool.servers", null, null, tags.and("state", "idle"), pool.serversIdle());
    }

    private static void serverSeries(Series series, Tags tags, ServerSession.ServerStats stats, Map<String, String> namesBySlotId, Instant now) {
        for (String state : List.of("active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call",
                "disabled")) {
            series.add("keel.database.connections", "Client connections by state", null, tags.and("state", state),
                    stats.connectionsByState().getOrDefault(state, 0L));
        }
        series.add("keel.database.size", "Size of the database on disk", "bytes", tags, stats.sizeBytes());
        series.add("keel.database.xid.age", "Transactions since the database's oldest unfrozen transaction ID", null, tags, stats.xidAge());
        if (stats.lastArchivedAt() != null) {
            series.add("keel.database.archive.last.archived", "When the server last handed a WAL file to Keel (Unix time)", "seconds", tags,
                    stats.lastArchivedAt().getEpochSecond());
        }
        if (stats.lastFailedAt() != null) {
            series.add("keel.database.archive.last.failure", "When handing a WAL file to Keel last failed (Unix time)", "seconds", tags,
                    stats.lastFailedAt().getEpochSecond());
        }
        for (ServerSession.StreamingReplica replica : stats.replicas()) {
            String slot = replica.slot() == null ? "" : replica.slot();
            String kind = slot.startsWith("standby_") ? "standby" : slot.startsWith("follower_") ? "follower" : "other";
            String name = kind.equals("follower") ? namesBySlotId.getOrDefault(slot.substring("follower_".length()), slot) : kind;
            Tags replicaTags = tags.and("replica", name, "kind", kind);
            if (replica.lagBytes() != null) {
                series.add("keel.database.replication.lag", "WAL the replica has not replayed yet", "bytes", replicaTags, replica.lagBytes());
            }
            series.add("keel.database.replication.lag.time", "How far the replica's replay is behind", "seconds", replicaTags,
                    replica.lagSeconds() == null ? 0 : replica.lagSeconds());
        }
    }

    private void haSeries(Series series, Tags tags, MetricsRepository.Row row) {
        Optional<Database> database = databases.find(row.id());
        if (database.isEmpty()) {
            return;
        }
        String status = ha.availability(database.get());
        if (!status.equals("Not on an HA plan")) {
            series.add("keel.database.ha.available", "Whether the HA standby is ready to take over (1) or not (0)", null, tags,
                    status.equals("Available") ? 1 : 0);
        }
    }

    /** The rows of one reading, published together: series of databases that are gone disappear. */
    private final class Series {
        private record Meta(String description, String unit) {
        }

        private final Map<String, List<MultiGauge.Row<?>>> rows = new HashMap<>();
        private final Map<String, Meta> metas = new HashMap<>();

        void add(String name, String description, String unit, Tags tags, Number value) {
            rows.computeIfAbsent(name, n -> new ArrayList<>()).add(MultiGauge.Row.of(tags, value));
            metas.putIfAbsent(name, new Meta(description, unit));
        }

        void publish() {
            for (String name : metas.keySet()) {
                Meta meta = metas.get(name);
                gauges.computeIfAbsent(name, n -> MultiGauge.builder(n).description(meta.description()).baseUnit(meta.unit()).register(registry));
            }
            gauges.forEach((name, gauge) -> gauge.register(rows.getOrDefault(name, List.of()), true));
        }
    }

    @PreDestroy
    void stop() {
        readers.shutdownNow();
    }
}
