package dev.keel.archive;

import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.InstanceState;
import dev.keel.instances.SpooledWal;
import dev.keel.jobs.Loops;
import dev.keel.postgres.WalFileName;
import dev.keel.storage.StorageException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ships WAL from each instance's spool to the object store. Every file is checksummed
 * (sha256 of its bytes, kept in the object's metadata and the catalog), compressed with zstd,
 * uploaded, recorded, and only then removed from the spool: a crash at any point leaves it in
 * the spool to be shipped again. A name the store already holds with the same checksum is
 * success (a retry after a crash); with another checksum it is a conflict: the object is never
 * overwritten, the file stays in the spool, and the database's archive status says why.
 */
@Singleton
public final class WalArchiver {
    private static final Logger LOG = LoggerFactory.getLogger(WalArchiver.class);
    private static final long SCAN_MILLIS = 100;
    private static final long IDLE_SCAN_MILLIS = 1000;
    private static final int IDLE_SCANS_BEFORE_BACKOFF = 50;

    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final WalFiles files;
    private final ArchiveRepository archive;
    private final ScheduledExecutorService scanner;
    private final ExecutorService uploads;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    /** Run as each scan begins: the tests' way to fail the scanner from inside. */
    volatile Runnable seam = () -> { };
    /** The instances, read from the catalog once a second rather than at every scan. */
    private static final long INSTANCES_REFRESH_NANOS = 1_000_000_000L;
    private volatile List<Instance> known = List.of();
    private long listedAt = Long.MIN_VALUE / 2;
    private int idleScans;
    /** The conflict last logged per database. */
    private final Map<UUID, String> conflictsLogged = new ConcurrentHashMap<>();

    private final Timer scanTimer;

    WalArchiver(InstanceRepository instances, InstanceRuntime runtime, WalFiles files, ArchiveRepository archive,
                @Value("${keel.archive.upload-threads:4}") int threads, MeterRegistry meters) {
        this.scanTimer = Loops.timer(meters, "wal-scan");
        this.instances = instances;
        this.runtime = runtime;
        this.files = files;
        this.archive = archive;
        this.scanner = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "keel-wal-scan"));
        AtomicInteger count = new AtomicInteger();
        this.uploads = Executors.newFixedThreadPool(threads, r -> new Thread(r, "keel-wal-upload-" + count.incrementAndGet()));
    }

    /** Starts watching the spools. */
    public void start() {
        scanner.schedule(this::scanAndReschedule, 0, TimeUnit.MILLISECONDS);
    }

    /**
     * Scans every 100 ms while WAL arrives; when none has for a while, every second, so an idle
     * installation costs next to nothing (a segment then waits at most a second more).
     */
    private void scanAndReschedule() {
        boolean[] found = {false};
        Loops.round("Scanning the WAL spools", scanTimer, () -> found[0] = scan());
        idleScans = found[0] ? 0 : idleScans + 1;
        long delay = idleScans < IDLE_SCANS_BEFORE_BACKOFF ? SCAN_MILLIS : IDLE_SCAN_MILLIS;
        try {
            scanner.schedule(this::scanAndReschedule, delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }

    /** Starts shipping what waits in the spools; says whether anything did. */
    private boolean scan() {
        seam.run();
        boolean found = false;
        long now = System.nanoTime();
        if (now - listedAt > INSTANCES_REFRESH_NANOS) {
            known = instances.hostedHere();
            listedAt = now;
        }
        for (Instance instance : known) {
            if (instance.databaseId() == null || instance.state() == InstanceState.DELETING) {
                continue; // a pooled instance's WAL is shipped once a database claims it
            }
            for (SpooledWal file : runtime.spooledWal(instance)) {
                found = true;
                String key = instance.databaseId() + "/" + instance.id() + "/" + file.name();
                if (inFlight.add(key)) {
                    uploads.execute(() -> {
                        try {
                            Loops.round("Archiving " + file.name() + " of instance " + instance.id(), () -> ship(instance, file));
                        } finally {
                            inFlight.remove(key);
                        }
                    });
                }
            }
        }
        return found;
    }

    /**
     * Waits until no upload of {@code database}'s WAL is in flight (its instances must be gone
     * already, so none starts), so that nothing records an archived file after its archive is removed.
     */
    void quiesce(UUID database) throws InterruptedException {
        String prefix = database + "/";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (inFlight.stream().anyMatch(key -> key.startsWith(prefix)) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
    }

    private void ship(Instance instance, SpooledWal spooled) {
        UUID database = instance.databaseId();
        MDC.put("database", database.toString());
        MDC.put("wal", spooled.name());
        try {
            Optional<WalFileName> file = WalFileName.parse(spooled.name());
            if (file.isEmpty()) {
                LOG.warn("The spool of instance {} holds {}, which is no WAL file; leaving it", instance.id(), spooled.name());
                return;
            }
            byte[] raw;
            try (InputStream in = runtime.openSpooledWal(instance, spooled.name())) {
                raw = in.readAllBytes();
            } catch (NoSuchFileException e) {
                return; // shipped and removed by an earlier scan
            }
            WalFiles.Outcome outcome = files.archive(database, file.get(), raw, raw.length, spooled.completedAt());
            if (outcome instanceof WalFiles.Refused refused) {
                conflict(database, refused.message());
                return;
            }
            runtime.removeSpooledWal(instance, spooled.name());
            recovered(database);
        } catch (StorageException e) {
            LOG.warn("Could not archive {}: {}", spooled.name(), e.getMessage());
            failed(database, "The object store does not take WAL: " + e.getMessage() + " WAL waits on the server until it does.");
        } catch (IOException e) {
            LOG.warn("Could not read {} from the spool of instance {}: {}", spooled.name(), instance.id(), e.toString());
            failed(database, "Keel cannot read WAL file " + spooled.name() + " from its spool: " + e
                    + ". WAL waits on the server until it can.");
        } catch (RuntimeException e) {
            LOG.error("Could not archive {}", spooled.name(), e);
        } finally {
            MDC.remove("database");
            MDC.remove("wal");
        }
    }

    /** Each conflict is logged once per Keel run: the refused file stays in the spool, and every scan meets it again. */
    private void conflict(UUID database, String message) {
        if (!message.equals(conflictsLogged.put(database, message))) {
            LOG.error(message);
        }
        archive.moveTo(database, ArchiveState.CONFLICT, message);
    }

    private void failed(UUID database, String message) {
        archive.fail(database, ArchiveRepository.Cause.SPOOL_UPLOAD, message);
    }

    /**
     * A file shipped: a failure of the spool's uploads, whichever node recorded it, clears; a
     * receiver's or a conflict stays. One conditional update per file, which writes nothing while
     * the status is ok.
     */
    private void recovered(UUID database) {
        archive.recover(database, ArchiveRepository.Cause.SPOOL_UPLOAD);
    }

    @PreDestroy
    void stop() throws InterruptedException {
        scanner.shutdownNow();
        uploads.shutdown();
        if (!uploads.awaitTermination(10, TimeUnit.SECONDS)) {
            uploads.shutdownNow();
        }
    }
}
