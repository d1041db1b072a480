package dev.keel.instances;

import dev.keel.nodes.Placement;
import dev.keel.Fatal;
import dev.keel.RandomStrings;
import dev.keel.credentials.Credentials;
import dev.keel.credentials.Secrets;
import dev.keel.postgres.ServerSession;
import org.jooq.DSLContext;
import dev.keel.postgres.PostgresBinaries;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import dev.keel.Network;
import dev.keel.postgres.HbaRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static dev.keel.catalog.schema.Tables.POOLED_DATABASES;

/**
 * Instances made ahead of demand, so that provisioning skips initdb, start and every statement on
 * the server: each pooled instance of the default major is initialised, configured, started, and
 * holds its future database already, owned by its owner role (name, owner and sealed password in
 * {@code pooled_databases}), which only Keel may log in to until a claim rewrites pg_hba.
 * {@code keel.instances.pool.size} of them are kept (0 turns the pool off), refilled in the
 * background after each provision that took one, while the node has room for them
 * ({@link Placement#noRoomForWarm}: a warm instance counts against its memory budget too).
 */
@Singleton
public final class WarmPool {
    private static final Logger LOG = LoggerFactory.getLogger(WarmPool.class);

    private final InstanceMaker maker;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Reconfiguration reconfiguration;
    private final Network network;
    private final DSLContext dsl;
    private final Secrets secrets;
    private final int size;
    private final int major;
    private final int maxConnections;
    private final Duration refillDelay;
    private final Placement placement;
    private final ScheduledExecutorService filler = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "keel-warm-pool"));

    WarmPool(InstanceMaker maker, InstanceRepository instances, InstanceConnections connections, Reconfiguration reconfiguration,
             Network network, PostgresBinaries binaries, DSLContext dsl, Secrets secrets, @Value("${keel.instances.pool.size}") int size,
             @Value("${keel.instances.pool.max-connections}") int maxConnections,
             @Value("${keel.instances.pool.refill-delay}") Duration refillDelay, Placement placement) {
        this.refillDelay = refillDelay;
        this.placement = placement;
        this.dsl = dsl;
        this.secrets = secrets;
        this.maker = maker;
        this.instances = instances;
        this.connections = connections;
        this.reconfiguration = reconfiguration;
        this.network = network;
        this.size = size;
        this.major = binaries.defaultMajor();
        this.maxConnections = maxConnections;
    }

    /** A name for a new database on a server: the Postgres database a Keel database is. */
    public static String newDatabaseName() {
        return "d" + RandomStrings.lowerAlphanumeric(13);
    }

    /** A claimed instance and the database it holds, with its owner's login. */
    public record Claimed(Instance instance, String pgDatabase, String owner, String ownerPassword) {
        @Override
        public String toString() {
            return "Claimed[instance=" + instance.id() + ", pgDatabase=" + pgDatabase + ", owner=" + owner + "]";
        }
    }

    /**
     * Takes a pooled instance of {@code major} for {@code databaseId}, if one is ready. The caller
     * calls {@link #refill} once its provision is done, so the refill's initdb does not compete
     * with that provision for CPU.
     */
    public Optional<Claimed> claim(UUID databaseId, int major) {
        if (size == 0 || major != this.major) {
            return Optional.empty();
        }
        Optional<Instance> claimed = instances.claimPooled(databaseId, major);
        if (claimed.isEmpty()) {
            return Optional.empty();
        }
        Instance instance = claimed.get();
        var row = dsl.selectFrom(POOLED_DATABASES).where(POOLED_DATABASES.INSTANCE_ID.eq(instance.id())).fetchOptional();
        if (row.isEmpty()) {
            // Pooled by a Keel from before pooled instances held their database: of no use now.
            LOG.info("Warm pool: discarding instance {}, which holds no database of its own", instance.id());
            maker.discard(instance);
            return Optional.empty();
        }
        return Optional.of(new Claimed(instance, row.get().getPgDatabase(), row.get().getOwner(),
                secrets.open(row.get().getPassword(), context(instance.id()))));
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

    /** Tops the pool up to its size in the background, after {@code keel.instances.pool.refill-delay}. */
    public void refill() {
        if (size > 0) {
            filler.schedule(this::fill, refillDelay.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Tops the pool up now, in the background (at Keel's start). */
    public void fillNow() {
        if (size > 0) {
            filler.execute(this::fill);
        }
    }

    private void fill() {
        if (!placement.open()) {
            LOG.info("Warm pool: this node is drained, so the pool is not filled");
            return;
        }
        try {
            while (instances.poolSize(major) < size) {
                Optional<String> full = placement.noRoomForWarm();
                if (full.isPresent()) {
                    LOG.info("Warm pool: this node has no room for another warm instance ({}), so the pool holds {} of {}", full.get(),
                            instances.poolSize(major), size);
                    return;
                }
                Instance instance = maker.make(null, major, Map.of("max_connections", Integer.toString(maxConnections)),
                        InstanceConfig.hbaKeelOnly(network.keelSources()), step -> { });
                try {
                    String pgDatabase = newDatabaseName();
                    String owner = Credentials.newOwnerName();
                    String password = Credentials.newPassword();
                    try (ServerSession session = connections.open(instance, "postgres")) {
                        session.createOwner(owner, password, pgDatabase);
                    }
                    try (ServerSession session = connections.open(instance, pgDatabase)) {
                        session.prepareDatabase(owner);
                    }
                    dsl.insertInto(POOLED_DATABASES)
                            .set(POOLED_DATABASES.INSTANCE_ID, instance.id())
                            .set(POOLED_DATABASES.PG_DATABASE, pgDatabase)
                            .set(POOLED_DATABASES.OWNER, owner)
                            .set(POOLED_DATABASES.PASSWORD, secrets.seal(password, context(instance.id())))
                            .execute();
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

    private static String context(UUID instance) {
        return "pooled-database:" + instance;
    }

    @PreDestroy
    void shutdown() throws InterruptedException {
        filler.shutdown();
        filler.awaitTermination(30, TimeUnit.SECONDS);
    }
}
