package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.sql.SQLException;
import java.time.Instant;
import java.util.UUID;

/**
 * {@code POST /v1/databases/{id}/upgrade {"version"}}: an online major-version upgrade (202, an
 * operation); with {@code "prepare": true} only checked and recorded, with {@code "dry_run": true}
 * tried on a throw-away copy. {@code GET} shows the newest upgrade; {@code DELETE} cancels a
 * prepared one.
 */
@Controller("/v1/databases/{database}/upgrade")
@ExecuteOn(TaskExecutors.BLOCKING)
final class UpgradeController {
    private final DatabaseLookup databases;
    private final Upgrades upgrades;

    UpgradeController(DatabaseLookup databases, Upgrades upgrades) {
        this.databases = databases;
        this.upgrades = upgrades;
    }

    @Serdeable
    record Request(@Nullable Object version, @Nullable Boolean prepare, @Nullable Boolean dryRun) {
    }

    @Serdeable
    record View(UUID id, String state, int fromMajor, int toMajor, boolean dryRun, @Nullable Long writePauseMs, @Nullable String step,
                @Nullable String message, @Nullable UUID operationId, Instant createdAt, @Nullable Instant finishedAt) {
    }

    @Post
    @JsonBody
    HttpResponse<View> upgrade(Caller caller, String database, @Body @Nullable Request request) throws SQLException {
        Database db = databases.require(caller, database);
        Integer version = request == null ? null : Upgrades.major(request.version());
        if (request != null && Boolean.TRUE.equals(request.prepare())) {
            return HttpResponse.ok(view(upgrades.prepare(db, version)));
        }
        Upgrade started = request != null && Boolean.TRUE.equals(request.dryRun()) ? upgrades.dryRun(db, version) : upgrades.run(db, version);
        return HttpResponse.accepted().body(view(started));
    }

    @Get
    View show(Caller caller, String database) {
        Database db = databases.require(caller, database);
        return upgrades.newest(db).map(this::view).orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, db.name()
                + " has never been upgraded."));
    }

    @Delete
    View cancel(Caller caller, String database) {
        return view(upgrades.cancel(databases.require(caller, database)));
    }

    private View view(Upgrade u) {
        return new View(u.id(), u.state().value(), u.fromMajor(), u.toMajor(), u.dryRun(), u.writePauseMillis(),
                upgrades.step(u).orElse(null), u.message(), u.operationId(), u.createdAt(), u.finishedAt());
    }
}
