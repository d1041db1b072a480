package dev.keel.instances;

import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Run once when Keel starts, before interrupted operations resume: stops and sets aside what the
 * runtime holds for instances the catalog does not know, removes pool instances a stop cut short, and
 * starts every instance that should serve (running or pooled) but whose server is down; a fenced
 * instance is killed again, should it run. Of the catalog's instances it touches only those this
 * node hosts.
 */
@Singleton
public final class InstanceSweep {
    private static final Logger LOG = LoggerFactory.getLogger(InstanceSweep.class);

    private final InstanceRepository instances;
    private final InstanceRuntime runtime;

    InstanceSweep(InstanceRepository instances, InstanceRuntime runtime) {
        this.instances = instances;
        this.runtime = runtime;
    }

    public void sweep() {
        // Set aside only what no node's row names: a server this node holds whose row names another node is odd, but known.
        Set<UUID> knownIds = instances.all().stream().map(Instance::id).collect(Collectors.toSet());
        List<Instance> known = instances.hostedHere();
        for (UUID orphan : runtime.held()) {
            if (!knownIds.contains(orphan)) {
                // Never deleted outright: it may hold a customer's data that a wrong catalog does not know.
                String where = runtime.setAside(orphan);
                LOG.warn("Stopped instance {} and moved it to {}: the catalog has no record of it", orphan, where);
            }
        }
        runtime.sweepLeftovers();
        for (Instance instance : known) {
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
            } else if (instance.state().serves() && !runtime.isRunning(instance)) {
                LOG.info("Starting instance {} of database {}: it should run but its server is down", instance.id(), instance.databaseId());
                try {
                    runtime.start(instance);
                } catch (RuntimeException e) {
                    LOG.error("Could not start instance {} of database {}", instance.id(), instance.databaseId(), e);
                }
            }
        }
    }
}
