package dev.keel.pooling;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.io.IOException;

/**
 * {@code GET /v1/databases/{id}/connection-pooling}: the database's pooler and its figures. A
 * pooler is made by attaching the database to an app with {@code "pooled": true}.
 */
@Controller("/v1/databases/{database}/connection-pooling")
@ExecuteOn(TaskExecutors.BLOCKING)
final class PoolingController {
    private final DatabaseLookup databases;
    private final Poolers poolers;
    private final PoolerStats stats;

    PoolingController(DatabaseLookup databases, Poolers poolers, PoolerStats stats) {
        this.databases = databases;
        this.poolers = poolers;
        this.stats = stats;
    }

    @Get
    PoolerStats.Stats show(Caller caller, String database) throws InterruptedException {
        Database db = databases.require(caller, database);
        Pooler pooler = poolers.find(db.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, db.name()
                + " has no connection pool; attach it to an app with \"pooled\": true (heroku pg:connection-pooling:attach)."));
        try {
            return stats.of(db, pooler);
        } catch (IOException e) {
            throw new KeelException(ProblemType.UNAVAILABLE, "The pooler of " + db.name() + " does not answer; Keel starts it again"
                    + " within a few seconds.");
        }
    }
}
