package dev.keel.instances;

import dev.keel.DaemonThreads;
import dev.keel.catalog.InstallationIdentity;
import dev.keel.jobs.Loops;
import dev.keel.postgres.Durations;
import dev.keel.problems.CatalogOutage;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Run once when Keel starts, before interrupted operations resume: stops and sets aside what the
 * runtime holds for instances the catalog does not know, removes pool instances a stop cut short, and
 * starts every instance that should serve (running or pooled) but whose server is down (from the
 * files it last accepted, put back, when it does not start from those a restart Keel stopped
 * during wrote: {@link Reconfiguration#startOrGoBack}); a fenced
 * instance is killed again, should it run. Of the catalog's instances it touches only those this
 * node hosts.
 *
 * <p>Then, every {@code keel.instances.sweep-interval}, it sets aside again the servers no row
 * names: those whose database was deleted, or whose server was replaced, by another node while
 * this one was cut off (the catalog forgets a server on a silent node, {@code RetiredServers}), so
 * that a node back from a partition does not serve them until its next start. A server is set aside
 * only once two looks in a row found it unnamed, and each look lists the servers before it reads
 * the rows: a server is recorded before its directory is made, and its directory removed before
 * its row, so nothing being made or removed is taken for an orphan. Each look reads the rows with
 * a check that the catalog is still this data directory's ({@link InstallationIdentity}), which
 * the start checks once: a catalog URL pointed elsewhere sets nothing aside.
 */
@Singleton
public final class InstanceSweep {
    private static final Logger LOG = LoggerFactory.getLogger(InstanceSweep.class);

    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final Reconfiguration reconfiguration;
    private final Duration interval;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-instance-sweep"));
    private final InstallationIdentity identity;
    /** The servers the last look found unnamed. */
    private Set<UUID> suspects = Set.of();
    private boolean wrongCatalog;

    InstanceSweep(InstanceRepository instances, InstanceRuntime runtime, Reconfiguration reconfiguration, InstallationIdentity identity,
                  @Value("${keel.instances.sweep-interval}") String interval) {
        this.instances = instances;
        this.runtime = runtime;
        this.reconfiguration = reconfiguration;
        this.identity = identity;
        this.interval = Durations.parse("KEEL_INSTANCES_SWEEP_INTERVAL", interval);
    }

    public void sweep() {
        // The start checked the pairing (InstallationIdentity.check) just before: empty only for a catalog swapped since.
        for (UUID orphan : unnamed().orElse(Set.of())) {
            setAside(orphan, "the catalog has no record of it");
        }
        runtime.sweepLeftovers();
        for (Instance instance : instances.hostedHere()) {
            if (instance.databaseId() == null && instance.state() == InstanceState.CREATING) {
                LOG.info("Removing instance {}: Keel stopped while making it for the warm pool", instance.id());
                runtime.destroy(instance.id());
                instances.delete(instance.id());
            } else if (instance.state() == InstanceState.FENCED) {
                try {
                    runtime.fence(instance); // a failover Keel stopped during may have left it running: it must never serve again
                } catch (RuntimeException e) {
                    LOG.error("Could not make sure fenced instance {} of database {} is not running; stop it by hand", instance.id(),
                            instance.databaseId(), e);
                }
            } else if (instance.state().serves()) {
                settle(instance);
            }
        }
    }

    /**
     * Starts a server that should run but is down; for one that runs beside the files a change
     * Keel stopped during left kept, takes the files in place if it started from them, else puts
     * back the ones it runs from ({@code ServerFiles.settleKept}): no reload (the HA monitor's, for one) then reads files nobody
     * checked, and the change, resumed, writes them again through its checks. A failure is logged:
     * the other servers are settled and started all the same.
     */
    void settle(Instance instance) {
        if (runtime.isRunning(instance)) {
            try {
                if (runtime.settleConfiguration(instance)) {
                    LOG.warn("Instance {} of database {}: Keel stopped during a change of its settings and rules; the server runs"
                            + " from the ones now in place", instance.id(), instance.databaseId());
                }
            } catch (RuntimeException e) {
                LOG.error("Could not settle the settings and rules of instance {} of database {}, which a change Keel stopped during"
                        + " left behind: the files in place, which nobody checked, stay until the next change, and a reload reads"
                        + " them", instance.id(), instance.databaseId(), e);
            }
            return;
        }
        LOG.info("Starting instance {} of database {}: it should run but its server is down", instance.id(), instance.databaseId());
        try {
            // Keel may have stopped it to restart it into new files: from the old, put back, should it not start from those.
            reconfiguration.startOrGoBack(instance);
        } catch (RuntimeException e) {
            LOG.error("Could not start instance {} of database {}", instance.id(), instance.databaseId(), e);
        }
    }

    /** Starts the periodic look, after {@link #sweep}. */
    public void start() {
        scheduler.scheduleWithFixedDelay(() -> Loops.round("The sweep of servers no row names", this::sweepUnnamed),
                interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    synchronized void sweepUnnamed() {
        Optional<Set<UUID>> found;
        try {
            found = unnamed();
        } catch (RuntimeException e) {
            if (!CatalogOutage.is(e)) {
                throw e;
            }
            return; // looks again once the catalog answers (the heartbeat says it is out of reach)
        }
        if (found.isEmpty()) {
            if (!wrongCatalog) {
                wrongCatalog = true;
                LOG.error("The catalog Keel reaches is no longer the installation this data directory belongs to; the sweep sets no"
                        + " server aside until it is (a catalog URL pointed elsewhere while Keel runs: point it back, or restart Keel,"
                        + " which refuses the pair)");
            }
            suspects = Set.of();
            return;
        }
        wrongCatalog = false;
        Set<UUID> still = new HashSet<>(found.get());
        for (UUID orphan : found.get()) {
            if (suspects.contains(orphan)) {
                try {
                    setAside(orphan, "the catalog no longer records it (another node deleted its database or replaced it while this"
                            + " node was cut off)");
                    still.remove(orphan);
                } catch (RuntimeException e) {
                    LOG.error("Could not set aside instance {}, which the catalog no longer records; stop it by hand", orphan, e);
                }
            }
        }
        suspects = still;
    }

    /**
     * The servers this node holds that no row names (a row naming another node is odd, but known);
     * empty when the catalog is not this data directory's. The servers are listed first: a server
     * is recorded before its directory is made.
     */
    private Optional<Set<UUID>> unnamed() {
        Set<UUID> held = new HashSet<>(runtime.held());
        return instances.allIds(identity).map(named -> {
            held.removeAll(named);
            return held;
        });
    }

    /** Never deleted outright: it may hold a customer's data that a wrong catalog does not know. */
    private void setAside(UUID orphan, String why) {
        String where = runtime.setAside(orphan);
        LOG.warn("Stopped instance {} and moved it to {}: {}", orphan, where, why);
    }

    @PreDestroy
    void stop() {
        scheduler.shutdownNow();
    }
}
