package dev.keel.operations;

import dev.keel.Ids;
import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

/** {@code GET /v1/operations/{id}}: progress of long work. */
@Controller("/v1/operations")
@ExecuteOn(TaskExecutors.BLOCKING)
final class OperationsController {
    private final OperationRepository operations;

    OperationsController(OperationRepository operations) {
        this.operations = operations;
    }

    @Get("/{id}")
    OperationView show(Caller caller, String id) {
        return Ids.parse(id).flatMap(uuid -> operations.view(caller.teamId(), uuid)).orElseThrow(() -> KeelException.notFound("operation", id));
    }
}
