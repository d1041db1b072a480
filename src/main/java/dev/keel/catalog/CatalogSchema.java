package dev.keel.catalog;

import dev.keel.DaemonThreads;
import dev.keel.StartupException;
import com.zaxxer.hikari.HikariDataSource;
import dev.keel.jobs.Loops;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationVersion;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static dev.keel.catalog.schema.Tables.CATALOG_COMPATIBILITY;

/**
 * Whether this node may work on its catalog during a rolling upgrade. The catalog may have been
 * migrated by a newer node beyond the migrations this node knows: that is fine as long as this
 * node's newest migration is at least the catalog's {@code oldest_compatible} (migrations only add,
 * see {@code V74}). Checked at start, where an incompatible node refuses with a message, and every
 * {@link #WATCH_SECONDS} while it runs, where it stops cleanly with the same message, so that a
 * newer node's breaking migration never meets an older node still writing.
 */
@Singleton
public final class CatalogSchema {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogSchema.class);
    static final long WATCH_SECONDS = 10;
    /** The exit status of a node stopped for an incompatible catalog: EX_CONFIG, as a supervisor should not restart it as is. */
    public static final int STATUS = 78;

    private final DSLContext dsl;
    private final int known;
    private ScheduledExecutorService watcher;
    /** How a running node stops when the catalog has moved past it: exits the JVM; the tests' seam to see it instead. */
    volatile Runnable stop = () -> new Thread(() -> System.exit(STATUS), "keel-incompatible-catalog").start();

    CatalogSchema(HikariDataSource migrated, DSLContext dsl) {
        this.dsl = dsl;
        this.known = newestKnown(migrated);
    }

    /**
     * What a build that records no migration on its rows knew: V87 began recording it ({@code operations.writer_migration},
     * {@code nodes.migration}), so a build without it carries V86 at most.
     */
    public static final int BEFORE_RECORDED = 86;

    /** The newest migration this build carries. */
    public int known() {
        return known;
    }

    /** The newest migration applied to the catalog, by this node or a newer one. */
    public int applied() {
        Integer newest = dsl.fetchSingle("select max(version::int) from flyway_schema_history where success and version is not null")
                .get(0, Integer.class);
        return newest == null ? 0 : newest;
    }

    /** Refuses the start of a node the catalog has moved past; says so when it runs beside a newer one. */
    public void check() {
        int oldest = oldestCompatible();
        int applied = applied();
        if (known < oldest) {
            throw new StartupException(incompatible(applied, oldest));
        }
        if (applied > known) {
            LOG.warn("The catalog is at migration V{}, newer than this node's V{}: a newer Keel node migrated it. This node works"
                    + " on it (it is compatible down to V{}) until it is replaced, as in a rolling upgrade.", applied, known, oldest);
        }
    }

    /** Watches for a newer node's breaking migration while this node runs, and stops this node cleanly if one comes. */
    public synchronized void watch() {
        if (watcher != null) {
            return;
        }
        watcher = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-catalog-schema"));
        watcher.scheduleWithFixedDelay(() -> Loops.round("Checking the catalog's compatibility", () -> {
            int oldest = oldestCompatible();
            if (known < oldest) {
                LOG.error("Stopping: {}", incompatible(applied(), oldest));
                watcher.shutdown();
                stop.run();
            }
        }), WATCH_SECONDS, WATCH_SECONDS, TimeUnit.SECONDS);
    }

    private int oldestCompatible() {
        return dsl.select(CATALOG_COMPATIBILITY.OLDEST_COMPATIBLE).from(CATALOG_COMPATIBILITY).fetchOptional(0, Integer.class).orElse(0);
    }

    private String incompatible(int applied, int oldest) {
        return "the catalog was migrated to V" + applied + " by a newer Keel, whose migrations no longer serve nodes older than V"
                + oldest + "; this node knows migrations up to V" + known + ". Replace this node with the newer Keel version"
                + " (GET /v1/nodes shows each node's version) rather than restarting it as it is.";
    }

    private static int newestKnown(HikariDataSource dataSource) {
        MigrationInfo[] all = Flyway.configure().dataSource(dataSource).locations(CatalogFactory.MIGRATIONS).load().info().all();
        return Arrays.stream(all).filter(m -> m.getState().isResolved()).map(MigrationInfo::getVersion).filter(Objects::nonNull)
                .map(MigrationVersion::getVersion).mapToInt(Integer::parseInt).max().orElse(0);
    }

    @PreDestroy
    synchronized void close() {
        if (watcher != null) {
            watcher.shutdownNow();
        }
    }
}
