package dev.keel.archive;

import dev.keel.DaemonThreads;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.jobs.Loops;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.ServerSession;
import dev.keel.storage.ObjectStore;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A {@link WalStream} for every running primary of a database, so that its WAL reaches the object
 * store within a second of being written rather than when a segment completes: checked once a
 * second, a stream starts for a new primary (after a provision, failover or upgrade) and stops
 * for one that is gone. {@code archive_command} stays the second path.
 *
 * <p>Where it runs: on a node other than the primary's when there is one, so that losing the
 * primary's host loses no WAL the receiver had: what it received it still stores. Among the
 * active nodes of this version other than the primary's, each database's receiver is on the one
 * its id ranks first (rendezvous hashing: a node joining or leaving moves only the receivers it
 * takes or had); with no other, on the primary's own node. A primary on a node of another version
 * is left to that node, which streams its own as older versions did. The physical slot admits one
 * receiver at a time, so while a receiver moves, the new one retries until the old one let go.
 * A node that cannot reach the primary's host for {@link #GIVE_UP} (a link cut between two hosts
 * that both still reach the catalog) gives the receiver up to the next node in line, or to the
 * primary's own, and records so ({@code wal_receiver_unreachable}); it tries to log in to the
 * primary every {@link #REACH_AGAIN_EVERY}, and once that works it removes its record and the
 * receiver comes back to it.
 * Each node reports its receivers in the catalog every round ({@code wal_receivers}), which is
 * what {@code /archive} shows when asked of another node.
 */
@Singleton
public final class WalReceivers {
    /** The physical slot through which Keel receives each primary's WAL. */
    public static final String SLOT = "keel_wal_receiver";
    private static final long SUPERVISE_MILLIS = 1000;
    /** How long a deletion waits for another node to stop the database's receiver. */
    private static final Duration QUIESCE_WAIT = Duration.ofSeconds(20);
    private static final Logger LOG = LoggerFactory.getLogger(WalReceivers.class);
    /** How long a receiver on another node than the primary's fails to reach it before that node gives it up. */
    static final Duration GIVE_UP = Duration.ofSeconds(10);
    /** How often a node that gave a receiver up tries the primary's port again. */
    private static final Duration REACH_AGAIN_EVERY = Duration.ofSeconds(5);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ObjectStore store;
    private final WalFiles files;
    private final ArchiveRepository archive;
    private final DatabaseLookup databases;
    private final Placement placement;
    private final ThisNode node;
    private final SynchronousArchive synchronous;
    private final long uploadMillis;
    private final boolean enabled;
    private final Map<UUID, WalStream> streams = new ConcurrentHashMap<>();
    private final Set<UUID> stopped = ConcurrentHashMap.newKeySet();
    /** What each of this node's streams last reported in the catalog, by instance. */
    private final Map<UUID, Reported> reported = new ConcurrentHashMap<>();
    /** The primaries this node gave up reaching, and when ({@link System#nanoTime}) it last tried one again. */
    private final Map<UUID, Long> reachTriedAt = new ConcurrentHashMap<>();
    /** How often a receiver whose status did not change is reported all the same: well within {@link ArchiveRepository#RECEIVER_FRESH}. */
    private static final Duration REPORT_AGAIN = Duration.ofSeconds(3);
    private final ScheduledExecutorService supervisor;
    private final ExecutorService stoppers;

    WalReceivers(InstanceRepository instances, InstanceConnections connections, ObjectStore store, WalFiles files, ArchiveRepository archive,
                 DatabaseLookup databases, Placement placement, ThisNode node, SynchronousArchive synchronous,
                 @Value("${keel.archive.stream-upload-millis:700}") long uploadMillis,
                 @Value("${keel.archive.streaming:true}") boolean enabled) {
        this.instances = instances;
        this.connections = connections;
        this.store = store;
        this.files = files;
        this.archive = archive;
        this.databases = databases;
        this.placement = placement;
        this.node = node;
        this.synchronous = synchronous;
        this.uploadMillis = uploadMillis;
        this.enabled = enabled;
        this.stoppers = Executors.newCachedThreadPool(DaemonThreads.named("keel-wal-receiver-stop"));
        this.supervisor = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-wal-receivers"));
    }

    public void start() {
        if (enabled) {
            supervisor.scheduleWithFixedDelay(() -> Loops.round("Supervising the WAL receivers", this::supervise), 0, SUPERVISE_MILLIS,
                    TimeUnit.MILLISECONDS);
        }
    }

    private void supervise() {
        Set<UUID> wanted = new HashSet<>();
        Placement.ByVersion nodes = placement.byVersion();
        Set<String> active = nodes.active();
        Set<String> otherVersions = nodes.otherVersion();
        Set<UUID> deleting = databases.deleting();
        Set<UUID> waitedFor = databases.onPlans(synchronous.plans());
        List<Instance> primaries = instances.runningPrimaries();
        Map<UUID, Set<String>> unreachable = unreachable(primaries);
        for (Instance primary : primaries) {
            Set<String> candidates = new HashSet<>(active);
            candidates.removeAll(unreachable.getOrDefault(primary.id(), Set.of()));
            if (!candidates.contains(node.name()) && active.contains(node.name()) && !node.name().equals(primary.node())) {
                reachAgain(primary);
            }
            if (primary.node() == null || otherVersions.contains(primary.node()) || stopped.contains(primary.databaseId())
                    || deleting.contains(primary.databaseId())
                    || !node.name().equals(receiverNode(primary.databaseId(), primary.node(), candidates))) {
                continue;
            }
            wanted.add(primary.id());
            boolean waited = waitedFor.contains(primary.databaseId());
            streams.computeIfAbsent(primary.id(), id -> {
                if (!primary.node().equals(node.name())) {
                    LOG.info("Receiving the WAL of instance {} (database {}) on node {}, from its primary on node {}", primary.id(),
                            primary.databaseId(), node.name(), primary.node());
                }
                WalStream stream = new WalStream(primary, connections, store, files, archive, uploadMillis,
                        !primary.node().equals(node.name()), waited);
                stream.start();
                return stream;
            }).synchronous(waited);
        }
        for (WalStream stream : streams.values()) {
            Instance primary = stream.instance();
            if (wanted.contains(primary.id()) && !node.name().equals(primary.node()) && stream.unreachableFor().compareTo(GIVE_UP) > 0) {
                LOG.warn("Node {} has not reached the primary of database {} on node {} for {} s: the WAL receiver goes to another"
                        + " node until this one reaches it again ({})", node.name(), primary.databaseId(), primary.node(),
                        stream.unreachableFor().toSeconds(), stream.status().problem());
                archive.giveUpReaching(primary.databaseId(), node.name(), primary.id());
                reachTriedAt.put(primary.id(), System.nanoTime());
                wanted.remove(primary.id()); // stopped below, now
            }
        }
        for (UUID id : Set.copyOf(streams.keySet())) {
            if (!wanted.contains(id)) {
                // Stopped on a thread of its own: one storing its last for seconds does not hold up the others' reports.
                WalStream stream = streams.remove(id);
                stream.requestStop();
                stoppers.execute(() -> {
                    stop(stream);
                    archive.forgetReceiver(stream.instance().databaseId(), node.name());
                });
            }
        }
        report();
    }

    /**
     * Which nodes gave up reaching each running primary (by the primary's id); this node's records of
     * a primary that is no longer one (a failover since) are removed.
     */
    private Map<UUID, Set<String>> unreachable(List<Instance> primaries) {
        Set<UUID> running = primaries.stream().map(Instance::id).collect(Collectors.toSet());
        Map<UUID, Set<String>> byPrimary = new HashMap<>();
        for (ArchiveRepository.Unreachable gaveUp : archive.unreachable()) {
            if (running.contains(gaveUp.instance())) {
                byPrimary.computeIfAbsent(gaveUp.instance(), id -> new HashSet<>()).add(gaveUp.node());
            } else if (gaveUp.node().equals(node.name())) {
                archive.reachesAgain(gaveUp.database(), node.name(), gaveUp.instance());
            }
        }
        reachTriedAt.keySet().retainAll(running);
        return byPrimary;
    }

    /** Logs in to a primary this node gave up reaching, at most every {@link #REACH_AGAIN_EVERY}, on a thread of its own. */
    private void reachAgain(Instance primary) {
        long now = System.nanoTime();
        Long tried = reachTriedAt.get(primary.id());
        if (tried != null && now - tried < REACH_AGAIN_EVERY.toNanos()) {
            return;
        }
        reachTriedAt.put(primary.id(), now); // the supervisor's one thread alone asks
        stoppers.execute(() -> {
            // A login, as the stream's: a port that accepts while logins fail (a hung server, a TLS fault) would only be given up again.
            try (ServerSession ignored = connections.probe(primary, 2)) {
                LOG.info("Node {} reaches the primary of database {} on node {} again: it takes back its WAL receiver", node.name(),
                        primary.databaseId(), primary.node());
                archive.reachesAgain(primary.databaseId(), node.name(), primary.id());
            } catch (SQLException | RuntimeException e) {
                LOG.debug("Node {} does not reach the primary of database {} yet: {}", node.name(), primary.databaseId(), e.getMessage());
            }
        });
    }

    /**
     * Reports this node's receivers in the catalog: each whose status changed since it was last
     * reported, and each other one every {@link #REPORT_AGAIN} so that its row stays fresh (a node
     * of many quiet databases writes a few rows a second, not one per database).
     */
    private void report() {
        long now = System.nanoTime();
        Map<Instance, WalStream.Status> changed = new HashMap<>();
        for (WalStream stream : streams.values()) {
            WalStream.Status status = stream.status();
            Reported last = reported.get(stream.instance().id());
            if (!stopped.contains(stream.instance().databaseId())
                    && (last == null || !last.status().equals(status) || now - last.at() >= REPORT_AGAIN.toNanos())) {
                changed.put(stream.instance(), status);
            }
        }
        reported.keySet().retainAll(streams.keySet());
        archive.reportReceivers(node.name(), changed);
        changed.forEach((instance, status) -> reported.put(instance.id(), new Reported(status, now)));
    }

    /** A status as last reported, and when ({@link System#nanoTime}). */
    private record Reported(WalStream.Status status, long at) {
    }

    /**
     * The node that receives database {@code database}'s WAL from its primary on {@code primaryNode}:
     * of the {@code active} nodes other than that one, the one ranked first for the database
     * (rendezvous hashing); the primary's own node when there is no other.
     */
    static String receiverNode(UUID database, String primaryNode, Set<String> active) {
        return active.stream().filter(n -> !n.equals(primaryNode))
                .max(Comparator.comparingLong((String n) -> rank(database, n)).thenComparing(Comparator.naturalOrder()))
                .orElse(primaryNode);
    }

    private static long rank(UUID database, String node) {
        byte[] digest = Sha256.digest().digest((database + "/" + node).getBytes(StandardCharsets.UTF_8));
        return ByteBuffer.wrap(digest).getLong();
    }

    /**
     * The database's receiver as it goes: this node's own stream if it runs one, else what the node
     * running it last reported in the catalog (a few seconds old at most), for its current primary.
     */
    Optional<Receiving> receiving(UUID database) {
        Optional<WalStream> local = stream(database);
        if (local.isPresent()) {
            return Optional.of(new Receiving(node.name(), local.get().status()));
        }
        Optional<UUID> primary = instances.primary(database).map(Instance::id);
        return archive.receiver(database).filter(r -> primary.equals(Optional.of(r.instance())))
                .map(r -> new Receiving(r.node(), r.status()));
    }

    /** A database's receiver: the node it runs on, and how it goes. */
    record Receiving(String node, WalStream.Status status) {
    }

    /** How the database's stream goes, if one runs for it. */
    Optional<WalStream> stream(UUID database) {
        return streams.values().stream().filter(s -> database.equals(s.instance().databaseId())).findFirst();
    }

    /** What the metrics show of a database's receiver: whether it streams, and the age of its oldest WAL not in the store. */
    public record Figures(boolean connected, double lagSeconds) {
    }

    public Optional<Figures> figures(UUID database, Instant now) {
        return stream(database).map(WalStream::status).filter(s -> s.stored() != null).map(s -> new Figures(s.connected(),
                s.unstoredSince() == null ? 0 : Math.max(0, Duration.between(s.unstoredSince(), now).toMillis() / 1000.0)));
    }

    /**
     * Stops the database's stream for good (its archive is being removed) and waits until it stored
     * its last: this node's own at once, another node's once that node sees the deletion (its
     * next round) and stopped it, which its row's removal tells. A row that node stops reporting
     * (it stopped, or was lost) is no stream after {@link ArchiveRepository#RECEIVER_FRESH}.
     */
    void quiesce(UUID database) throws InterruptedException {
        stopped.add(database);
        for (WalStream stream : streams.values()) {
            if (database.equals(stream.instance().databaseId())) {
                streams.remove(stream.instance().id());
                stream.stop();
            }
        }
        archive.forgetReceiver(database, node.name());
        Instant deadline = Instant.now().plus(QUIESCE_WAIT);
        // This node's own row (a report that raced the stop) names a stream stopped above.
        while (archive.receiver(database).filter(r -> !r.node().equals(node.name())).isPresent()) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("the WAL receiver of database " + database + " on node "
                        + archive.receiver(database).map(ArchiveRepository.ReportedReceiver::node).orElse("?")
                        + " did not stop within " + QUIESCE_WAIT.toSeconds() + " s; the deletion goes on when asked again");
            }
            Thread.sleep(200);
        }
    }

    private static void stop(WalStream stream) {
        try {
            stream.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @PreDestroy
    void close() throws InterruptedException {
        supervisor.shutdownNow();
        supervisor.awaitTermination(5, TimeUnit.SECONDS); // a round under way may still start a stream
        stoppers.shutdown();
        stoppers.awaitTermination(10, TimeUnit.SECONDS);
        // All at once: each stores what it holds, and a node's stop does not wait for its streams one after another.
        streams.values().forEach(WalStream::requestStop);
        Instant deadline = Instant.now().plusSeconds(10);
        for (WalStream stream : streams.values()) {
            stream.awaitStop(deadline);
            try {
                archive.forgetReceiver(stream.instance().databaseId(), node.name()); // shown as off at once, not once stale
            } catch (RuntimeException e) {
                LOG.debug("Could not remove the row of the WAL receiver of instance {}: {}", stream.instance().id(), e.getMessage());
            }
        }
        streams.clear();
    }
}
