package dev.keel.archive;

import dev.keel.auth.Caller;
import dev.keel.databases.DatabaseLookup;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.time.Instant;

/** {@code GET /v1/databases/{id}/archive}: continuous protection (see {@link ArchiveReport}). */
@Controller("/v1/databases/{database}/archive")
@ExecuteOn(TaskExecutors.BLOCKING)
final class ArchiveController {
    private final DatabaseLookup databases;
    private final ArchiveReport reports;

    ArchiveController(DatabaseLookup databases, ArchiveReport reports) {
        this.databases = databases;
        this.reports = reports;
    }

    @Get
    ArchiveReport.Report show(Caller caller, String database) {
        return reports.report(databases.require(caller, database), Instant.now());
    }
}
