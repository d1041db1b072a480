package dev.keel.nodes;

import dev.keel.Network;
import dev.keel.jobs.Loops;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Renews this node's heartbeat every {@code keel.node.heartbeat-interval}, on a daemon thread, so
 * that other nodes (and {@code GET /v1/nodes}) see it alive; a node that stops renewing is lost
 * after {@code keel.node.lost-after}. Each beat records the free and used space of the disk under
 * its server directory, which placement reads for every node. Each round also counts the nodes by state for the
 * {@code keel_nodes{state}} gauge, and once the API listens its URL is recorded.
 */
@Singleton
public final class NodeHeartbeat implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(NodeHeartbeat.class);

    private final NodeRepository nodes;
    private final ThisNode node;
    private final Network network;
    private final Timer roundTimer;
    private final Map<NodeState, AtomicInteger> byState = new EnumMap<>(NodeState.class);
    private ScheduledExecutorService executor;

    NodeHeartbeat(NodeRepository nodes, ThisNode node, Network network, MeterRegistry meters) {
        this.nodes = nodes;
        this.node = node;
        this.network = network;
        this.roundTimer = Loops.timer(meters, "node-heartbeat");
        for (NodeState state : NodeState.values()) {
            AtomicInteger count = new AtomicInteger();
            byState.put(state, count);
            Gauge.builder("keel.nodes", count, AtomicInteger::get).description("Keel nodes on this catalog, by state")
                    .tag("state", state.value()).register(meters);
        }
    }

    public synchronized void start() {
        if (executor != null) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "keel-node-heartbeat");
            thread.setDaemon(true);
            return thread;
        });
        long interval = node.heartbeatInterval().toMillis();
        executor.scheduleWithFixedDelay(() -> Loops.round("The node heartbeat", roundTimer, this::beat), 0, interval, TimeUnit.MILLISECONDS);
    }

    private void beat() {
        if (!nodes.heartbeat(node.name(), node.disk().orElse(null))) {
            LOG.warn("Node {} has no row in the registry any more; it registers again at its next start", node.name());
        }
        Map<NodeState, Integer> counts = new EnumMap<>(NodeState.class);
        for (NodeRepository.Row row : nodes.all()) {
            counts.merge(NodeState.of(row.drained(), Duration.between(row.heartbeatAt(), row.now()), node.lostAfter()), 1, Integer::sum);
        }
        byState.forEach((state, count) -> count.set(counts.getOrDefault(state, 0)));
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        nodes.recordApiUrl(node.name(), network.apiUrl(event.getSource().getPort()));
    }

    @PreDestroy
    synchronized void stop() throws InterruptedException {
        if (executor != null) {
            executor.shutdownNow();
            executor.awaitTermination(10, TimeUnit.SECONDS);
            executor = null;
        }
    }
}
