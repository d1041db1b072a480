package dev.keel.archive;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** {@code /v1/databases/{id}/backups}: take a base backup now, list them, show one. */
@Controller("/v1/databases/{database}/backups")
@ExecuteOn(TaskExecutors.BLOCKING)
final class BackupsController {
    private final DatabaseLookup databases;
    private final BaseBackups baseBackups;
    private final BackupRepository backups;

    BackupsController(DatabaseLookup databases, BaseBackups baseBackups, BackupRepository backups) {
        this.databases = databases;
        this.baseBackups = baseBackups;
        this.backups = backups;
    }

    @Serdeable
    record View(UUID id, String state, String kind, Instant startedAt, @Nullable Instant finishedAt, @Nullable String startLsn,
                @Nullable String stopLsn, @Nullable Integer timeline, @Nullable Long sizeBytes, @Nullable Long storedBytes,
                @Nullable String error, UUID operationId) {
        static View of(Backup b) {
            return new View(b.id(), b.state().value(), b.kind().value(), b.startedAt(), b.finishedAt(),
                    b.startLsn() == null ? null : b.startLsn().toString(), b.stopLsn() == null ? null : b.stopLsn().toString(),
                    b.timeline() == null ? null : b.timeline().value(), b.size(), b.stored(), b.error(), b.operationId());
        }
    }

    @Post
    HttpResponse<View> take(Caller caller, String database) {
        Database db = databases.requireAvailable(caller, database);
        if (db.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, db.name() + " is a follower: it has no archive of its"
                    + " own, and its leader's backups hold its data; back up its leader, or unfollow it first.");
        }
        Backup backup = baseBackups.start(db, BackupKind.MANUAL);
        return HttpResponse.accepted(URI.create("/v1/databases/" + db.id() + "/backups/" + backup.id())).body(View.of(backup));
    }

    @Get
    List<View> list(Caller caller, String database) {
        return backups.list(databases.require(caller, database).id()).stream().map(View::of).toList();
    }

    @Get("/{backup}")
    View show(Caller caller, String database, String backup) {
        Database db = databases.require(caller, database);
        return Ids.parse(backup).flatMap(id -> backups.find(db.id(), id)).map(View::of)
                .orElseThrow(() -> KeelException.notFound("backup", backup));
    }
}
