package dev.keel.instances;

import dev.keel.Fatal;
import dev.keel.postgres.PostgresBinaries;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import dev.keel.Network;
import dev.keel.postgres.HbaRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Instances made ahead of demand, so that provisioning skips initdb and start: each pooled
 * instance of the default major is initialised, configured, started, and holds an empty
 * placeholder database that a claim renames. {@code keel.instances.pool.size} of them are kept
 * (0 turns the pool off), refilled in the background after each provision that took one.
 */
@Singleton
public final class WarmPool {
    private static final Logger LOG = LoggerFactory.getLogger(WarmPool.class);

    private final InstanceMaker maker;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Reconfiguration reconfiguration;
    private final Network network;
    private final int size;
    private final int major;
    private final int maxConnections;
    private final ExecutorService filler = Executors.newSingleThreadExecutor(r -> new Thread(r, "keel-warm-pool"));

    WarmPool(InstanceMaker maker, InstanceRepository instances, InstanceConnections connections, Reconfiguration reconfiguration,
             Network network, PostgresBinaries binaries, @Value("${keel.instances.pool.size}") int size,
             @Value("${keel.instances.pool.max-connections}") int maxConnections) {
        this.maker = maker;
        this.instances = instances;
        this.connections = connections;
        this.reconfiguration = reconfiguration;
        this.network = network;
        this.size = size;
        this.major = binaries.defaultMajor();
        this.maxConnections = maxConnections;
    }

    /** The database a pooled instance holds for its future owner. */
    public static String placeholderDatabase(Instance instance) {
        return "pool_" + instance.id().toString().replace("-", "").substring(0, 16);
    }

    /**
     * Takes a pooled instance of {@code major} for {@code databaseId}, if one is ready. The caller
     * calls {@link #refill} once its provision is done, so the refill's initdb does not compete
     * with that provision for CPU.
     */
    public Optional<Instance> claim(UUID databaseId, int major) {
        if (size == 0 || major != this.major) {
            return Optional.empty();
        }
        return instances.claimPooled(databaseId, major);
    }

    /**
     * Fits a claimed instance to its database: {@code hba} and {@code extraSettings} over Keel's
     * base, applied by a reload, or by a restart when a setting that needs one (such as the
     * plan's {@code max_connections}) differs from the running value.
     */
    public Instance adopt(Instance claimed, Map<String, String> extraSettings, List<HbaRule> hba, Consumer<String> onStep)
            throws SQLException {
        onStep.accept(InstanceMaker.INITIALIZING);
        onStep.accept(InstanceMaker.STARTING);
        reconfiguration.apply(claimed, maker.settings(claimed, extraSettings), hba);
        return claimed;
    }

    /** Tops the pool up to its size in the background. */
    public void refill() {
        if (size > 0) {
            filler.execute(this::fill);
        }
    }

    private void fill() {
        try {
            while (instances.poolSize(major) < size) {
                Instance instance = maker.make(null, major, Map.of("max_connections", Integer.toString(maxConnections)),
                        InstanceConfig.hbaKeelOnly(network.localHost()), step -> { });
                try {
                    try (Connection connection = connections.open(instance, "postgres")) {
                        InstanceSql.createDatabase(connection, placeholderDatabase(instance));
                    }
                    try (Connection connection = connections.open(instance, placeholderDatabase(instance))) {
                        InstanceSql.createStatementStatistics(connection);
                    }
                    instances.transition(instance.id(), InstanceState.POOLED);
                } catch (Exception e) {
                    maker.discard(instance);
                    throw e;
                }
                LOG.info("Warm pool: instance {} of Postgres {} is ready on port {}", instance.id(), major, instance.port());
            }
        } catch (Throwable e) {
            Fatal.haltIfFatal(e);
            // Nothing half made is left; the next provision's refill tries again.
            LOG.error("Warm pool: could not make an instance; provisioning takes the slow path meanwhile", e);
        }
    }

    @PreDestroy
    void shutdown() throws InterruptedException {
        filler.shutdown();
        filler.awaitTermination(30, TimeUnit.SECONDS);
    }
}
