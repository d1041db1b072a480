package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseView;
import dev.keel.problems.KeelException;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.util.List;

/**
 * {@code /v1/databases} reads: list, show, info. Provisioning, plan changes, deprovisioning and
 * unfollowing are {@link DatabaseLifecycleController}'s.
 */
@Controller("/v1/databases")
@ExecuteOn(TaskExecutors.BLOCKING)
final class DatabasesController {
    private final DatabaseRepository databases;
    private final DatabaseViews views;
    private final DatabaseInfo info;

    DatabasesController(DatabaseRepository databases, DatabaseViews views, DatabaseInfo info) {
        this.info = info;
        this.databases = databases;
        this.views = views;
    }

    @Get
    List<DatabaseView> list(Caller caller) {
        return databases.list(caller.teamId()).stream().map(views::of).toList();
    }

    @Get("/{idOrName}")
    DatabaseView show(Caller caller, String idOrName) {
        return views.of(databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName)));
    }

    @Get("/{idOrName}/info")
    DatabaseInfo.Info info(Caller caller, String idOrName) {
        return info.of(databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName)));
    }
}
