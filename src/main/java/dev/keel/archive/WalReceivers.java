package dev.keel.archive;

import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.jobs.Loops;
import dev.keel.storage.ObjectStore;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A {@link WalStream} for every running primary of a database, so that its WAL reaches the object
 * store within a second of being written rather than when a segment completes: checked once a
 * second, a stream starts for a new primary (after a provision, failover or upgrade) and stops
 * for one that is gone. {@code archive_command} stays the second path.
 */
@Singleton
public final class WalReceivers {
    /** The physical slot through which Keel receives each primary's WAL. */
    public static final String SLOT = "keel_wal_receiver";
    private static final long SUPERVISE_MILLIS = 1000;

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ObjectStore store;
    private final WalFiles files;
    private final ArchiveRepository archive;
    private final long uploadMillis;
    private final boolean enabled;
    private final Map<UUID, WalStream> streams = new ConcurrentHashMap<>();
    private final Set<UUID> stopped = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService supervisor;

    WalReceivers(InstanceRepository instances, InstanceConnections connections, ObjectStore store, WalFiles files, ArchiveRepository archive,
                 @Value("${keel.archive.stream-upload-millis:700}") long uploadMillis,
                 @Value("${keel.archive.streaming:true}") boolean enabled) {
        this.instances = instances;
        this.connections = connections;
        this.store = store;
        this.files = files;
        this.archive = archive;
        this.uploadMillis = uploadMillis;
        this.enabled = enabled;
        this.supervisor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "keel-wal-receivers");
            thread.setDaemon(true);
            return thread;
        });
    }

    public void start() {
        if (enabled) {
            supervisor.scheduleWithFixedDelay(() -> Loops.round("Supervising the WAL receivers", this::supervise), 0, SUPERVISE_MILLIS,
                    TimeUnit.MILLISECONDS);
        }
    }

    private void supervise() {
        Set<UUID> wanted = new HashSet<>();
        for (Instance instance : instances.hostedHere()) {
            if (instance.databaseId() != null && instance.role() == InstanceRole.PRIMARY && instance.state() == InstanceState.RUNNING
                    && !stopped.contains(instance.databaseId())) {
                wanted.add(instance.id());
                streams.computeIfAbsent(instance.id(), id -> {
                    WalStream stream = new WalStream(instance, connections, store, files, archive, uploadMillis);
                    stream.start();
                    return stream;
                });
            }
        }
        for (UUID id : Set.copyOf(streams.keySet())) {
            if (!wanted.contains(id)) {
                stop(streams.remove(id));
            }
        }
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

    /** Stops the database's stream for good (its archive is being removed) and waits until it stored its last. */
    void quiesce(UUID database) throws InterruptedException {
        stopped.add(database);
        for (WalStream stream : streams.values()) {
            if (database.equals(stream.instance().databaseId())) {
                streams.remove(stream.instance().id());
                stream.stop();
            }
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
        // All at once: each stores what it holds, and a node's stop does not wait for its streams one after another.
        streams.values().forEach(WalStream::requestStop);
        Instant deadline = Instant.now().plusSeconds(10);
        for (WalStream stream : streams.values()) {
            stream.awaitStop(deadline);
        }
        streams.clear();
    }
}
