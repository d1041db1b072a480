package dev.keel.dataclips;

import dev.keel.DaemonThreads;
import dev.keel.jobs.Loops;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;

import java.time.OffsetDateTime;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Counts accesses to share links in memory and adds them to the catalog once a second (and
 * before the counts are shown), so that a busy link costs no catalog write per request.
 */
@Singleton
final class AccessCounts {
    private record Pending(long count, OffsetDateTime last) {
    }

    private final DataclipRepository clips;
    private final Map<UUID, Pending> pending = new ConcurrentHashMap<>();
    private final ScheduledExecutorService flusher = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-dataclip-access"));

    AccessCounts(DataclipRepository clips) {
        this.clips = clips;
        flusher.scheduleWithFixedDelay(this::flushQuietly, 1, 1, TimeUnit.SECONDS);
    }

    void record(UUID clipId) {
        OffsetDateTime now = OffsetDateTime.now();
        pending.merge(clipId, new Pending(1, now), (a, b) -> new Pending(a.count() + b.count(), b.last()));
    }

    /** Writes what was counted so far. */
    synchronized void flush() {
        for (UUID id : pending.keySet()) {
            Pending counted = pending.remove(id);
            if (counted != null) {
                clips.recordAccess(id, counted.count(), counted.last());
            }
        }
    }

    private void flushQuietly() {
        Loops.round("Recording dataclip accesses", this::flush);
    }

    @PreDestroy
    void stop() {
        flusher.shutdownNow();
        flushQuietly();
    }
}
