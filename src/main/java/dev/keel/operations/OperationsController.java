package dev.keel.operations;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.UUID;

/** {@code GET /v1/operations/{id}}: progress of long work. */
@Controller("/v1/operations")
@ExecuteOn(TaskExecutors.BLOCKING)
final class OperationsController {
    private final OperationRepository operations;

    OperationsController(OperationRepository operations) {
        this.operations = operations;
    }

    @Serdeable
    record View(UUID id, String kind, String state, @Nullable UUID databaseId, @Nullable String step, @Nullable String stepCode,
                Progress progress, int attempt,
                @Nullable String error, @Nullable String errorCode, @Nullable Boolean retryable, OffsetDateTime createdAt, OffsetDateTime updatedAt, @Nullable OffsetDateTime finishedAt,
                @Nullable String node) {
    }

    @Serdeable
    record Progress(long done, long total, String unit) {
    }

    @Get("/{id}")
    View show(Caller caller, String id) {
        return Ids.parse(id).flatMap(uuid -> operations.view(caller.teamId(), uuid)).orElseThrow(() -> KeelException.notFound("operation", id));
    }
}
