package dev.keel.restore;

import dev.keel.DaemonThreads;
import dev.keel.Fatal;
import dev.keel.archive.ArchiveRepository;
import dev.keel.archive.ArchivedWal;
import dev.keel.archive.StreamedWal;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRuntime;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import dev.keel.storage.StorageException;
import io.micronaut.core.annotation.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.function.Supplier;

/**
 * Serves a recovering instance's {@code restore_command} from the source's archive. It answers
 * what the server asks for (a checked file, or "missing" for what the archive does not hold) and
 * fetches the next segments of the same timeline before they are asked for, several at once, so
 * replay rarely waits on the store. A file the archive records but cannot give back intact stops
 * the recovery (it must not promote early, without that WAL).
 */
final class WalServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WalServer.class);
    private static final int PREFETCH = 12;
    private static final long POLL_MILLIS = 10;
    private static final long CATALOG_REFRESH_MILLIS = 500;
    private static final Duration SOURCE_PATIENCE = Duration.ofMinutes(5);
    private static final int STORE_ATTEMPTS = 4;

    private final Instance instance;
    private final UUID source;
    private final WalSegmentName start;
    @Nullable
    private final WalSegmentName waitThrough;
    private final InstanceRuntime runtime;
    private final ArchiveRepository archive;
    private final WalFetcher fetcher;
    private final ExecutorService downloads;
    private final Thread poller;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final Set<String> offered = ConcurrentHashMap.newKeySet();
    private volatile Map<String, ArchivedWal> catalog = Map.of();
    @Nullable
    private volatile StreamedWal partial;
    private long catalogReadAt;
    private long waitingSince;
    private volatile boolean running = true;
    private volatile String failure;
    private volatile WalSegmentName newestAsked;

    /**
     * Serves {@code source}'s archive to {@code instance}, starting at the backup's first segment
     * {@code start}; with {@code waitThrough}, segments up to it that are not archived yet are
     * waited for rather than answered missing.
     */
    WalServer(Instance instance, UUID source, WalSegmentName start, @Nullable WalSegmentName waitThrough, InstanceRuntime runtime,
              ArchiveRepository archive, WalFetcher fetcher, ExecutorService downloads) {
        this.instance = instance;
        this.source = source;
        this.start = start;
        this.waitThrough = waitThrough;
        this.runtime = runtime;
        this.archive = archive;
        this.fetcher = fetcher;
        this.downloads = downloads;
        this.poller = DaemonThreads.daemon(this::poll, "keel-wal-server-" + instance.id());
    }

    /** Starts answering and fetches the first segments the server will ask for. */
    void start() {
        readCatalog();
        prefetchFrom(start, PREFETCH);
        poller.start();
    }

    Instance instance() {
        return instance;
    }

    /** Why the archive cannot serve this restore, once it cannot. */
    @Nullable
    String failure() {
        return failure;
    }

    /** How many segments past the backup's first the server has asked for. */
    long segmentsAsked() {
        WalSegmentName newest = newestAsked;
        return newest == null ? 0 : newest.number() - start.number() + 1;
    }

    /** How many segments the restore is expected to replay, as far as the archive holds them now. */
    long segmentsExpected() {
        WalSegmentName last = start;
        for (ArchivedWal file : catalog.values()) {
            WalSegmentName segment = file.file().kind() == WalFileName.Kind.SEGMENT ? file.file().segment().orElseThrow() : null;
            if (segment != null && segment.number() > last.number() && (waitThrough == null || segment.compareTo(waitThrough) <= 0)) {
                last = segment;
            }
        }
        if (waitThrough != null && waitThrough.number() > last.number()) {
            last = waitThrough;
        }
        return last.number() - start.number() + 1;
    }

    private void poll() {
        while (running) {
            try {
                for (String name : runtime.wantedWal(instance)) {
                    answer(name);
                }
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                return;
            } catch (Throwable e) {
                Fatal.haltIfFatal(e);
                LOG.warn("Serving WAL to restoring instance {} failed; trying again", instance.id(), e);
                sleepQuietly(200);
            }
        }
    }

    private void answer(String name) throws IOException {
        if (failure != null || inFlight.contains(name)) {
            return;
        }
        WalFileName file = WalFileName.parse(name).orElse(null);
        if (file == null) {
            runtime.refuseWal(instance, name);
            return;
        }
        ArchivedWal recorded = catalog.get(name);
        if (recorded == null && waitsFor(file)) {
            if (System.currentTimeMillis() - catalogReadAt > CATALOG_REFRESH_MILLIS) {
                readCatalog();
            }
            recorded = catalog.get(name);
            if (recorded == null && partialOf(name) == null) {
                waitingSince = waitingSince == 0 ? System.currentTimeMillis() : waitingSince;
                if (System.currentTimeMillis() - waitingSince > SOURCE_PATIENCE.toMillis()) {
                    fail("WAL segment " + name + " did not reach the source's archive within " + SOURCE_PATIENCE.toMinutes()
                            + " minutes; see GET /v1/databases/" + source + "/archive");
                }
                return;
            }
        }
        waitingSince = 0;
        if (recorded == null && file.kind() == WalFileName.Kind.SEGMENT) {
            // Never "missing" from a stale read: the segment may have been completed, or streamed, since.
            readCatalog();
            recorded = catalog.get(name);
            StreamedWal partial = partialOf(name);
            if (recorded == null && partial != null) {
                fetch(name, () -> fetcher.readPartial(source, partial), false);
                return;
            }
        }
        if (recorded == null) {
            runtime.refuseWal(instance, name);
            return;
        }
        if (file.kind() == WalFileName.Kind.SEGMENT) {
            WalSegmentName segment = file.segment().orElseThrow();
            if (newestAsked == null || segment.compareTo(newestAsked) > 0) {
                newestAsked = segment;
            }
            offered.remove(name); // asked again: it was used or lost, fetch it anew
            prefetchFrom(segment, PREFETCH + 1);
            if (waitThrough != null && !waitsFor(file)) {
                fetch(name, recorded); // archived beyond what is waited for: prefetching stops there, yet it is served
            }
        } else {
            fetch(name, recorded);
        }
    }

    /** Whether a segment the archive lacks will still come: a fork waits for the source's WAL through its last write. */
    private boolean waitsFor(WalFileName file) {
        return waitThrough != null && file.kind() == WalFileName.Kind.SEGMENT
                && file.timeline().equals(waitThrough.timeline()) && file.segment().orElseThrow().compareTo(waitThrough) <= 0;
    }

    /** Fetches {@code count} archived segments from {@code first} on (of its timeline), those not fetched yet. */
    private void prefetchFrom(WalSegmentName first, int count) {
        WalSegmentName segment = first;
        for (int i = 0; i < count; i++, segment = segment.next()) {
            if (waitThrough != null && segment.timeline().equals(waitThrough.timeline()) && segment.compareTo(waitThrough) > 0) {
                return;
            }
            ArchivedWal recorded = catalog.get(segment.toString());
            if (recorded == null) {
                return;
            }
            if (!offered.contains(recorded.name())) {
                fetch(recorded.name(), recorded);
            }
        }
    }

    /** The streamed partial segment of this name, if that is what the source's receiver stored last and the target reaches it. */
    @Nullable
    private StreamedWal partialOf(String name) {
        StreamedWal streamed = partial;
        if (streamed == null || !streamed.name().equals(name)) {
            return null;
        }
        // A fork replays through the segment that held the source's last write at the request, never past it.
        return waitThrough == null || streamed.segment().compareTo(waitThrough) <= 0 ? streamed : null;
    }

    private void fetch(String name, ArchivedWal recorded) {
        fetch(name, () -> fetcher.read(source, recorded), true);
    }

    /** Hands {@code name} to the server from {@code read}; a partial segment is not remembered as offered, it may grow. */
    private void fetch(String name, Supplier<byte[]> read, boolean remember) {
        if (!inFlight.add(name)) {
            return;
        }
        downloads.execute(() -> {
            try {
                for (int attempt = 1; running && failure == null; attempt++) {
                    try {
                        runtime.offerWal(instance, name, read.get());
                        if (remember) {
                            offered.add(name);
                        }
                        return;
                    } catch (StorageException e) {
                        if (attempt == STORE_ATTEMPTS) {
                            fail("the object store did not give back WAL file " + name + " after " + attempt + " attempts: "
                                    + e.getMessage());
                            return;
                        }
                        sleepQuietly(500L * attempt);
                    }
                }
            } catch (CorruptArchiveException e) {
                fail(e.getMessage());
            } catch (Throwable e) {
                Fatal.haltIfFatal(e);
                if (running) {
                    LOG.error("Could not hand WAL file {} to restoring instance {}", name, instance.id(), e);
                    fail("Keel could not hand WAL file " + name + " to the restoring server: " + e.getMessage());
                }
            } finally {
                inFlight.remove(name);
            }
        });
    }

    private void readCatalog() {
        Map<String, ArchivedWal> files = new HashMap<>();
        for (ArchivedWal file : archive.files(source)) {
            files.put(file.name(), file);
        }
        catalog = files;
        partial = archive.streamed(source).orElse(null);
        catalogReadAt = System.currentTimeMillis();
    }

    private synchronized void fail(String reason) {
        if (failure != null) {
            return;
        }
        failure = reason;
        LOG.error("Restore of instance {} cannot go on: {}", instance.id(), reason);
        try {
            runtime.abortRecovery(instance, reason);
        } catch (IOException | RuntimeException e) {
            LOG.warn("Could not tell restoring instance {} to stop", instance.id(), e);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        poller.interrupt();
    }
}
