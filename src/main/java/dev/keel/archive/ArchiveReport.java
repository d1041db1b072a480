package dev.keel.archive;

import dev.keel.postgres.ServerSession;
import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.MonitoringSessions;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.SpooledWal;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalFileName;
import dev.keel.postgres.WalSegmentName;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Continuous protection as {@code /archive} reports it, from the catalog's archive rows, the
 * backups, what waits in the spool, and the server's own WAL position.
 * <ul>
 * <li>{@code lag_bytes}: WAL the server wrote past the newest archived segment (it includes the
 * current, unfinished segment, which {@code archive_timeout} bounds in time).</li>
 * <li>{@code lag_seconds}: how long the oldest WAL that is finished but not in the store has
 * waited, 0 when none waits. An idle server has none, however long ago its last segment was.</li>
 * <li>{@code window}: what a rollback can target: from the oldest completed backup whose unbroken
 * WAL reaches as far as any backup's does, to when that furthest segment was finished.</li>
 * <li>{@code gaps}: segments missing on the newest timeline after the newest restorable backup's
 * start (or the first archived segment when there is none).</li>
 * </ul>
 */
@Singleton
public final class ArchiveReport {
    private static final Duration LASTING_FAILURE = Duration.ofMinutes(2);

    private final ArchiveRepository archive;
    private final BackupRepository backups;
    private final InstanceRepository instances;
    private final InstanceRuntime runtime;
    private final MonitoringSessions sessions;
    private final int spoolMaxFiles;
    private final WalReceivers receivers;
    private final SynchronousArchive synchronous;

    ArchiveReport(ArchiveRepository archive, BackupRepository backups, InstanceRepository instances, InstanceRuntime runtime,
                  MonitoringSessions sessions, WalReceivers receivers, SynchronousArchive synchronous,
                  @Value("${keel.archive.spool-max-files}") int spoolMaxFiles) {
        this.receivers = receivers;
        this.synchronous = synchronous;
        this.spoolMaxFiles = spoolMaxFiles;
        this.archive = archive;
        this.backups = backups;
        this.instances = instances;
        this.runtime = runtime;
        this.sessions = sessions;
    }

    @Serdeable
    public record Report(String status, @Nullable String message, @Nullable String newestSegment, @Nullable Instant newestArchivedAt,
                         long lagSeconds, @Nullable Long lagBytes, int waitingFiles, @Nullable Window window, List<Gap> gaps,
                         int archivedFiles, long storedBytes, @Nullable Instant checkedAt, @Nullable String missing,
                         @Nullable Receiver receiver) {
    }

    /**
     * The WAL receiver: {@code streaming}, {@code behind} (WAL older than a few seconds is not in
     * the store yet, or it is catching up: what the server had flushed when it connected is not all
     * stored), {@code reconnecting} (with why) or {@code off}; the newest streamed position
     * in the store and when it was stored; what it received; how far the server's flushed WAL is
     * ahead of it; its slot on the primary ({@code wal_status} and the bytes the server may still
     * write before it drops the slot's WAL, {@code max_slot_wal_keep_size}); the node it runs on
     * (another than the primary's when there is one; null while off).
     */
    @Serdeable
    public record Receiver(String state, @Nullable String streamedLsn, @Nullable Instant streamedAt, @Nullable String receivedLsn,
                           @Nullable Long behindBytes, @Nullable String slotWalStatus, @Nullable Long slotSafeWalBytes,
                           @Nullable String message, @Nullable String node, @Nullable Boolean synchronous) {
    }

    @Serdeable
    public record Window(Instant from, Instant to) {
    }

    @Serdeable
    public record Gap(String from, String to) {
    }

    public Report report(Database database, Instant now) {
        if (database.following()) {
            return new Report("following", database.name() + " is a follower: its leader's archive protects its data, and it archives"
                    + " to its own prefix once it is unfollowed.", null, null, 0, null, 0, null, List.of(), 0, 0, null, null, null);
        }
        List<ArchivedWal> files = archive.files(database.id());
        Map<TimelineId, TreeMap<Long, ArchivedWal>> segments = segmentsByTimeline(files);
        Optional<ArchivedWal> newest = segments.isEmpty() ? Optional.empty()
                : Optional.of(segments.get(lastKey(segments)).lastEntry().getValue());
        List<Backup> completed = new ArrayList<>(backups.completed(database.id()));
        completed.sort(Comparator.comparing(Backup::finishedAt));

        ArchiveRepository.Status status = archive.status(database.id());
        String state = status.state().value();
        String message = status.message();
        Long lagBytes = null;
        long lagSeconds = 0;
        int waiting = 0;
        Optional<Instance> primary = instances.primary(database.id());
        Optional<StreamedWal> partial = archive.streamed(database.id());
        Optional<WalStream> stream = receivers.stream(database.id()); // this node's own, told what the server was seen holding
        ServerSession.ServerWal seen = null;
        if (primary.isPresent()) {
            List<SpooledWal> spooled = runtime.spooledWal(primary.get());
            waiting = spooled.size();
            if (!spooled.isEmpty()) {
                lagSeconds = Duration.between(spooled.get(0).completedAt(), now).toSeconds();
            }
            try {
                // On the kept monitoring session: a TLS login per /archive call was most of its cost.
                ServerSession.ServerWal wal = sessions.with(primary.get(), s -> s.serverWal(WalReceivers.SLOT));
                seen = wal;
                stream.ifPresent(s -> s.serverSeen(wal.flushed(), now));
                // Measured from the end of the unbroken archive, not the highest segment: uploads finish out of order.
                Lsn through = archivedThrough(completed, segments, newest);
                Lsn streamedThrough = partial.filter(p -> p.instance().equals(primary.get().id())).map(StreamedWal::end).orElse(Lsn.ZERO);
                lagBytes = Math.max(0, wal.current().bytesSince(streamedThrough.isAfter(through) ? streamedThrough : through));
                boolean handOffFailing = wal.lastFailedAt() != null
                        && (wal.lastArchivedAt() == null || wal.lastFailedAt().isAfter(wal.lastArchivedAt()));
                // Postgres retries a failed hand-off only every minute or so: a full spool that has drained
                // again is no failure; a full spool now is, and so is a failure that lasts.
                Instant since = handOffFailing ? (wal.lastArchivedAt() == null ? wal.lastFailedAt() : wal.lastArchivedAt()) : now;
                boolean backpressure = handOffFailing && waiting >= spoolMaxFiles;
                boolean lasting = handOffFailing && Duration.between(since, now).compareTo(LASTING_FAILURE) > 0;
                if ((backpressure || lasting) && message == null) {
                    lagSeconds = Math.max(lagSeconds, Duration.between(since, now).toSeconds());
                    state = ArchiveState.FAILING.value();
                    message = backpressure
                            ? "The server cannot hand WAL to Keel (last tried " + wal.lastFailedWal() + "): " + waiting
                              + " files wait for upload (at most " + spoolMaxFiles + "). It keeps its WAL until they are uploaded."
                            : "The server has failed to hand WAL to Keel since " + since + " (last tried " + wal.lastFailedWal()
                              + "); its log says why. It keeps its WAL meanwhile.";
                }
            } catch (SQLException | DataAccessException e) {
                message = message == null ? "The server does not answer, so its WAL position is unknown: " + e.getMessage() : message;
            }
        }
        Optional<WalReceivers.Receiving> receiving = receivers.receiving(database.id());
        Optional<WalStream.Status> streaming = receiving.map(WalReceivers.Receiving::status);
        if (streaming.isPresent() && streaming.get().stored() != null) {
            // Once the receiver runs, WAL reaches the store through it: its oldest unstored WAL is the archive's lag.
            Instant since = streaming.get().unstoredSince();
            lagSeconds = since == null ? 0 : Math.max(0, Duration.between(since, now).toSeconds());
            if (streaming.get().catchUpTo() != null) {
                lagSeconds = Math.max(1, lagSeconds); // a catch-up is behind from its first moment: never "0 s"
            }
        }
        Receiver receiver = ReceiverReport.of(receiving, partial, seen, lagSeconds, synchronous.wants(database.plan()));
        if (message == null && receiver.message() != null && receiver.slotWalStatus() != null && ReceiverReport.slotInDanger(seen)) {
            message = receiver.message();
        }
        long stored = files.stream().mapToLong(ArchivedWal::storedBytes).sum();
        List<Reach> reaches = reaches(completed, segments);
        return new Report(state, message, newest.map(ArchivedWal::name).orElse(null), newest.map(ArchivedWal::archivedAt).orElse(null),
                lagSeconds, lagBytes, waiting, window(reaches, segments, partial, streaming, now), gaps(reaches, segments), files.size(),
                stored, status.checkedAt(), status.missing(), receiver);
    }

    /**
     * A backup a restore can start from, and the earliest time it can restore to: when it was
     * consistent, which is no later than when it finished nor than when its stop segment was.
     */
    public record Restorable(Backup backup, Instant from) {
    }

    /** What a restore can start from now: the backups, oldest first, and the window they cover (null when none). */
    public record Restorability(List<Restorable> backups, @Nullable Window window) {
    }

    /**
     * The completed backups a restore can start from — those whose unbroken WAL reaches as far as
     * any backup's does (the window's) — and the window, from one read of the catalog, without
     * asking the server anything.
     */
    public Restorability restorable(UUID database) {
        Map<TimelineId, TreeMap<Long, ArchivedWal>> segments = segmentsByTimeline(archive.files(database));
        List<Reach> reaches = reaches(backups.completed(database), segments);
        List<Restorable> restorable = furthest(reaches).stream()
                .map(r -> new Restorable(r.backup(), restorableFrom(r.backup(), segments)))
                .sorted(Comparator.comparing(Restorable::from)).toList();
        return new Restorability(restorable, window(reaches, segments, archive.streamed(database),
                receivers.receiving(database).map(WalReceivers.Receiving::status), Instant.now()));
    }

    /** The newest segment the archive holds any of: the streamed partial's, else the newest archived one. */
    public Optional<WalSegmentName> newestStored(UUID database) {
        Optional<WalSegmentName> archived = archive.files(database).stream().filter(f -> f.file().kind() == WalFileName.Kind.SEGMENT)
                .map(f -> f.file().segment().orElseThrow()).max(Comparator.naturalOrder());
        Optional<WalSegmentName> streamed = archive.streamed(database).map(StreamedWal::segment);
        return streamed.isPresent() && (archived.isEmpty() || streamed.get().compareTo(archived.get()) > 0) ? streamed : archived;
    }

    private static List<Reach> furthest(List<Reach> reaches) {
        Optional<WalSegmentName> furthest = reaches.stream().map(r -> r.last().file().segment().orElseThrow())
                .max(Comparator.naturalOrder());
        return reaches.stream().filter(r -> r.last().file().segment().equals(furthest)).toList();
    }

    private static Instant restorableFrom(Backup backup, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments) {
        WalSegmentName stop = WalSegmentName.containing(backup.timeline(), new Lsn(backup.stopLsn().value() - 1));
        ArchivedWal stopSegment = segments.get(stop.timeline()).get(stop.number());
        return stopSegment.completedAt().isBefore(backup.finishedAt()) ? stopSegment.completedAt() : backup.finishedAt();
    }

    private static Map<TimelineId, TreeMap<Long, ArchivedWal>> segmentsByTimeline(List<ArchivedWal> files) {
        Map<TimelineId, TreeMap<Long, ArchivedWal>> byTimeline = new TreeMap<>();
        for (ArchivedWal file : files) {
            if (file.file().kind() == WalFileName.Kind.SEGMENT) {
                WalSegmentName segment = file.file().segment().orElseThrow();
                byTimeline.computeIfAbsent(segment.timeline(), t -> new TreeMap<>()).put(segment.number(), file);
            }
        }
        return byTimeline;
    }

    private static TimelineId lastKey(Map<TimelineId, TreeMap<Long, ArchivedWal>> segments) {
        return ((TreeMap<TimelineId, TreeMap<Long, ArchivedWal>>) segments).lastKey();
    }

    /** The end of the WAL archived without a gap: from the furthest-reaching backup, else from the first archived segment. */
    private static Lsn archivedThrough(List<Backup> completed, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments,
                                       Optional<ArchivedWal> newest) {
        if (newest.isEmpty()) {
            return Lsn.ZERO;
        }
        Optional<ArchivedWal> reach = reaches(completed, segments).stream().map(Reach::last)
                .max(Comparator.comparing(w -> w.file().segment().orElseThrow()));
        TimelineId timeline = newest.get().file().timeline();
        ArchivedWal last = reach.orElseGet(() -> unbrokenFrom(new WalSegmentName(timeline, segments.get(timeline).firstKey()), segments)
                .orElseThrow());
        return last.file().segment().orElseThrow().endLsn();
    }

    /** The newest segment reachable from {@code start} without a gap, if the archive holds {@code start}. */
    static Optional<ArchivedWal> unbrokenFrom(WalSegmentName start, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments) {
        TreeMap<Long, ArchivedWal> timeline = segments.get(start.timeline());
        if (timeline == null || !timeline.containsKey(start.number())) {
            return Optional.empty();
        }
        long n = start.number();
        while (timeline.containsKey(n + 1)) {
            n++;
        }
        return Optional.of(timeline.get(n));
    }

    /** The backups a restore can start from, with how far each one's unbroken WAL reaches. */
    private record Reach(Backup backup, ArchivedWal last) {
    }

    private static List<Reach> reaches(List<Backup> completed, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments) {
        List<Reach> reaches = new ArrayList<>();
        for (Backup backup : completed) {
            WalSegmentName start = WalSegmentName.containing(backup.timeline(), backup.startLsn());
            WalSegmentName stop = WalSegmentName.containing(backup.timeline(), new Lsn(backup.stopLsn().value() - 1));
            unbrokenFrom(start, segments)
                    .filter(last -> last.file().segment().orElseThrow().compareTo(stop) >= 0)
                    .ifPresent(last -> reaches.add(new Reach(backup, last)));
        }
        return reaches;
    }

    /**
     * From when the oldest backup that reaches as far as any does was consistent, to the newest
     * streamed position: when the partial segment that follows the furthest segment was stored,
     * or now while the receiver streams with nothing unstored; else when that furthest segment
     * was finished.
     */
    private static Window window(List<Reach> reaches, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments,
                                 Optional<StreamedWal> partial, Optional<WalStream.Status> streaming, Instant now) {
        List<Reach> furthest = furthest(reaches);
        return furthest.stream().map(r -> restorableFrom(r.backup(), segments)).min(Instant::compareTo)
                .map(from -> new Window(from, ReceiverReport.windowEnd(furthest.get(0).last(), partial, streaming, now)))
                .orElse(null);
    }

    /** Missing segments on the newest timeline, from the start of the window's oldest backup (or the first archived segment). */
    private static List<Gap> gaps(List<Reach> reaches, Map<TimelineId, TreeMap<Long, ArchivedWal>> segments) {
        if (segments.isEmpty()) {
            return List.of();
        }
        TimelineId timeline = lastKey(segments);
        TreeMap<Long, ArchivedWal> numbers = segments.get(timeline);
        long first = reaches.stream().map(Reach::backup).filter(b -> b.timeline().equals(timeline))
                .mapToLong(b -> WalSegmentName.containing(timeline, b.startLsn()).number())
                .max().orElse(numbers.firstKey());
        List<Gap> gaps = new ArrayList<>();
        Long missingFrom = null;
        for (long n = first; n <= numbers.lastKey(); n++) {
            if (!numbers.containsKey(n)) {
                missingFrom = missingFrom == null ? n : missingFrom;
            } else if (missingFrom != null) {
                gaps.add(new Gap(new WalSegmentName(timeline, missingFrom).toString(), new WalSegmentName(timeline, n - 1).toString()));
                missingFrom = null;
            }
        }
        return gaps;
    }
}
