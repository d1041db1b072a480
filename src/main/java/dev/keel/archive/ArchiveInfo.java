package dev.keel.archive;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plans;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The info lines of continuous protection: whether WAL is archived, and the rollback window. */
@Singleton
final class ArchiveInfo implements DatabaseInfo.Lines {
    private final ArchiveReport report;
    private final Plans plans;

    ArchiveInfo(ArchiveReport report, Plans plans) {
        this.report = report;
        this.plans = plans;
    }

    @Override
    public List<DatabaseInfo.Line> lines(Database database) {
        if (database.state() != DatabaseState.AVAILABLE || database.following()) {
            return List.of(); // a follower's data is its leader's, protected by the leader's archive
        }
        ArchiveReport.Report archive = report.report(database, Instant.now());
        List<DatabaseInfo.Line> lines = new ArrayList<>();
        lines.add(DatabaseInfo.Line.of("Continuous Protection", "ok".equals(archive.status()) ? "On"
                : "On, " + archive.status() + (archive.message() == null ? "" : ": " + archive.message())));
        boolean rollback = plans.find(database.plan()).map(p -> p.fork() && p.rollbackWindowDays() > 0).orElse(false);
        if (rollback) {
            lines.add(DatabaseInfo.Line.of("Rollback", archive.window() == null ? "Unavailable until the first backup completes"
                    : "earliest from " + archive.window().from() + ", latest to " + archive.window().to()));
        }
        return lines;
    }
}
