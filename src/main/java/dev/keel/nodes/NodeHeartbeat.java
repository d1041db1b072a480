package dev.keel.nodes;

import dev.keel.DaemonThreads;
import dev.keel.Network;
import dev.keel.jobs.Loops;
import dev.keel.catalog.CatalogConnections;
import dev.keel.catalog.CatalogLocation;
import dev.keel.catalog.CatalogSession;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
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
 *
 * <p>Between beats, every quarter of {@code keel.ha.fence-after} (T_fence), the node touches its
 * heartbeat alone, on a thread of its own: its catalog contact. The HA monitor's self-fence reads
 * how long ago the last contact that succeeded began ({@link #sinceCatalogContact}), and other
 * nodes read the heartbeat's age in the catalog; both are measured from the same statement.
 */
@Singleton
public final class NodeHeartbeat implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(NodeHeartbeat.class);
    private static final Duration STUCK_AFTER_OUTAGE = Duration.ofSeconds(3);
    private static final Duration STUCK_WAITING = Duration.ofSeconds(2);

    private final NodeRepository nodes;
    private final ThisNode node;
    private final Network network;
    private final Timer roundTimer;
    private final Map<NodeState, AtomicInteger> byState = new EnumMap<>(NodeState.class);
    private final Duration contactEvery;
    private ScheduledExecutorService executor;
    /** When ({@link System#nanoTime}) the last catalog contact that succeeded began. */
    private volatile long lastContact = System.nanoTime();
    /** Whether a contact has succeeded since this Keel started ({@link #lastContact} starts at the start, as if one had). */
    private volatile boolean contacted;
    private volatile boolean contactLost;
    /** When ({@link System#nanoTime}) the first contact that failed since the last that succeeded began. */
    private long lostSince;
    private final CatalogConnections pool;
    private final CatalogLocation catalog;
    /** The contact's own catalog connection; only the contact's thread uses it. */
    private Connection contactSession;

    NodeHeartbeat(NodeRepository nodes, ThisNode node, Network network, MeterRegistry meters, CatalogLocation catalog,
                  CatalogConnections pool, @Value("${keel.ha.fence-after:2s}") Duration fenceAfter) {
        this.nodes = nodes;
        this.pool = pool;
        this.catalog = catalog;
        this.contactEvery = fenceAfter.dividedBy(4);
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
        lastContact = System.nanoTime();
        // Two threads: a beat waiting for the catalog never delays a contact, nor the other way round.
        executor = Executors.newScheduledThreadPool(2, DaemonThreads.named("keel-node-heartbeat"));
        long interval = node.heartbeatInterval().toMillis();
        executor.scheduleWithFixedDelay(() -> Loops.round("The node heartbeat", roundTimer, this::beat), 0, interval, TimeUnit.MILLISECONDS);
        executor.scheduleWithFixedDelay(() -> Loops.round("The node's catalog contact", this::contact), contactEvery.toMillis(),
                contactEvery.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Whether a catalog contact has succeeded since this Keel started. */
    public boolean hasContacted() {
        return contacted;
    }

    /** When ({@link System#nanoTime}) the last catalog contact that succeeded began. */
    public long lastContactNanos() {
        return lastContact;
    }

    /** How long ago the last catalog contact that succeeded began: an upper bound on how long the catalog has been out of reach. */
    public Duration sinceCatalogContact() {
        return Duration.ofNanos(System.nanoTime() - lastContact);
    }

    /**
     * One catalog contact, over a connection of its own rather than the pool's: one that waits for a
     * connection, or holds one whose packets are dropped for the pool's 30 s socket timeout, would
     * leave the contact stale long after the catalog is back. Its own gives up within a second, and
     * is opened again at the next contact.
     */
    private void contact() {
        long began = System.nanoTime();
        try {
            if (contactSession == null) {
                contactSession = CatalogSession.open(catalog, 1, "keel-contact");
            }
            NodeRepository.touch(contactSession, node.name());
            lastContact = began;
            contacted = true;
            if (contactLost) {
                contactLost = false;
                String released = releaseStuck(began);
                LOG.info("Node {} reaches the catalog again{}", node.name(), released);
            }
        } catch (SQLException | DataAccessException e) {
            closeContact();
            if (!contactLost) {
                contactLost = true;
                lostSince = began;
                LOG.warn("Node {} cannot reach the catalog: {}", node.name(), e.getMessage());
            }
        }
    }

    /**
     * After an outage of {@link #STUCK_AFTER_OUTAGE} or more, closes the pool's connections whose
     * statement has been under way since more than {@link #STUCK_WAITING} before the catalog answered
     * again: a statement sent into the outage waits for TCP's next retransmission, seconds after the
     * catalog is back (see {@link CatalogConnections}), while one sent in the last
     * {@code STUCK_WAITING} is retransmitted within about a second. A shorter outage (a slow catalog
     * on a loaded host) closes nothing, nor does a connection idle between statements.
     */
    private String releaseStuck(long regained) {
        if (regained - lostSince < STUCK_AFTER_OUTAGE.toNanos()) {
            return "";
        }
        int closed = pool.abortWaitingSince(regained - STUCK_WAITING.toNanos());
        return closed == 0 ? "" : "; closed " + closed + " catalog connection(s) whose statements the outage left waiting";
    }

    private void closeContact() {
        if (contactSession != null) {
            try {
                contactSession.close();
            } catch (SQLException e) {
                // broken already
            }
            contactSession = null;
        }
    }

    private void beat() {
        if (!nodes.heartbeat(node.name(), node.disk().orElse(null))) {
            LOG.warn("Node {} has no row in the registry any more; it registers again at its next start", node.name());
        }
        Map<NodeState, Integer> counts = new EnumMap<>(NodeState.class);
        for (NodeRepository.Row row : nodes.all()) {
            counts.merge(row.state(node), 1, Integer::sum);
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
        closeContact();
    }
}
