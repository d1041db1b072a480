package dev.keel.dumps;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Decides which scheduled logical backups are due: a schedule whose hour it is in its time zone,
 * whose database has no scheduled backup from the last 20 hours. Each one started is then subject
 * to the plan's retention when it completes.
 */
@Singleton
final class ScheduledDumps {
    private static final Logger LOG = LoggerFactory.getLogger(ScheduledDumps.class);
    private static final Duration MIN_SPACING = Duration.ofHours(20);

    private final DumpSchedules schedules;
    private final DatabaseLookup databases;
    private final TransferRepository transfers;
    private final DumpCapture capture;

    ScheduledDumps(DumpSchedules schedules, DatabaseLookup databases, TransferRepository transfers, DumpCapture capture) {
        this.schedules = schedules;
        this.databases = databases;
        this.transfers = transfers;
        this.capture = capture;
    }

    /** Starts the backups due at {@code now}; returns them. */
    List<Transfer> dispatch(Instant now) {
        List<Transfer> started = new ArrayList<>();
        for (DumpSchedules.Schedule schedule : schedules.all()) {
            Optional<Database> database = databases.find(schedule.databaseId()).filter(d -> d.state() == DatabaseState.AVAILABLE);
            if (database.isEmpty() || now.atZone(schedule.zone()).getHour() != schedule.hour()) {
                continue;
            }
            boolean recent = transfers.backups(schedule.databaseId()).stream()
                    .anyMatch(b -> b.scheduleName() != null && b.createdAt().isAfter(now.minus(MIN_SPACING)));
            if (recent) {
                continue;
            }
            try {
                started.add(capture.start(database.get(), schedule.name()));
            } catch (RuntimeException e) {
                LOG.warn("Could not start the scheduled logical backup of {}: {}", database.get().name(), e.getMessage());
            }
        }
        return started;
    }
}
