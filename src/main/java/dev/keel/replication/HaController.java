package dev.keel.replication;

import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.DatabaseLookup;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;
import java.util.UUID;

/** {@code /v1/databases/{id}/ha} (status and the monitor's decisions) and {@code .../failover} (a planned switchover). */
@Controller("/v1/databases/{database}")
@ExecuteOn(TaskExecutors.BLOCKING)
final class HaController {
    private final DatabaseLookup databases;
    private final HaMonitor monitor;
    private final Failover failover;

    HaController(DatabaseLookup databases, HaMonitor monitor, Failover failover) {
        this.databases = databases;
        this.monitor = monitor;
        this.failover = failover;
    }

    @Serdeable
    record Switchover(UUID databaseId, UUID operationId, String step) {
    }

    @Get("/ha")
    HaMonitor.Status status(Caller caller, String database) {
        return monitor.status(databases.require(caller, database));
    }

    @Post("/failover")
    HttpResponse<Switchover> failover(Caller caller, String database) {
        Accepted accepted = failover.accept(caller, database);
        return HttpResponse.accepted(URI.create("/v1/operations/" + accepted.operation().id()))
                .body(new Switchover(accepted.database().id(), accepted.operation().id(), accepted.operation().step()));
    }
}
