package dev.keel.archive;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

/** {@code /v1/databases/{id}/backup-schedule}: the UTC hour of the daily base backup. */
@Controller("/v1/databases/{database}/backup-schedule")
@ExecuteOn(TaskExecutors.BLOCKING)
final class BackupScheduleController {
    private final DatabaseLookup databases;
    private final BackupSchedules schedules;

    BackupScheduleController(DatabaseLookup databases, BackupSchedules schedules) {
        this.databases = databases;
        this.schedules = schedules;
    }

    @Serdeable
    record Schedule(int hour, String timezone) {
    }

    @Serdeable
    record Change(@Nullable Integer hour) {
    }

    @Get
    Schedule show(Caller caller, String database) {
        return new Schedule(schedules.hour(databases.require(caller, database).id()), "UTC");
    }

    @Put
    @JsonBody
    Schedule change(Caller caller, String database, @Body Change change) {
        Database db = databases.require(caller, database);
        if (change.hour() == null || change.hour() < 0 || change.hour() > 23) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"hour\" is the UTC hour of the daily backup, 0 to 23.");
        }
        schedules.setHour(db.id(), change.hour());
        return new Schedule(change.hour(), "UTC");
    }
}
