package dev.keel.pooling;

import dev.keel.DaemonThreads;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.Durations;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps every pooler matched to its database, every second: pointed at the current primary (so a
 * pool follows a failover or switchover within about a second of the catalog naming the new
 * primary), sized by the current plan, and running (a PgBouncer that died is started again,
 * as one left running by a stopped Keel is found again by its pid file).
 */
@Singleton
final class PoolerWatch implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(PoolerWatch.class);
    private static final long QUIET_MILLIS = 60_000;

    private final Poolers poolers;
    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final ThisNode node;
    private final Duration interval;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-pooler-watch"));
    private final Map<UUID, Long> lastComplaint = new ConcurrentHashMap<>();
    private volatile boolean started;

    PoolerWatch(Poolers poolers, DatabaseLookup databases, InstanceRepository instances, ThisNode node,
                @Value("${keel.pooling.check-interval:1s}") String interval) {
        this.poolers = poolers;
        this.databases = databases;
        this.instances = instances;
        this.node = node;
        this.interval = Durations.parse("KEEL_POOLING_CHECK_INTERVAL", interval);
    }

    @Override
    public synchronized void onApplicationEvent(ServerStartupEvent event) {
        if (!started) {
            started = true;
            scheduler.scheduleWithFixedDelay(this::checkAll, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    void checkAll() {
        try {
            for (Pooler pooler : poolers.all()) {
                // The node that hosts the database's primary looks after its pooler.
                Optional<Database> database = databases.find(pooler.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                        .filter(d -> instances.primary(d.id()).map(Instance::node).filter(node.name()::equals).isPresent());
                if (database.isPresent()) {
                    check(database.get(), pooler);
                }
            }
            poolers.sweep();
        } catch (RuntimeException e) {
            LOG.warn("Checking the poolers failed; trying again", e);
        }
    }

    private void check(Database database, Pooler pooler) {
        try {
            poolers.reconcile(database, pooler);
            lastComplaint.remove(database.id());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            long now = System.currentTimeMillis();
            Long last = lastComplaint.get(database.id());
            if (last == null || now - last > QUIET_MILLIS) {
                lastComplaint.put(database.id(), now);
                LOG.warn("Could not bring the pooler of {} in line with its database; trying again every {}", database.name(), interval, e);
            }
        }
    }

    @PreDestroy
    void stop() {
        scheduler.shutdownNow();
    }
}
