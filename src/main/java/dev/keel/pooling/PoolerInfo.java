package dev.keel.pooling;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.Plans;
import io.micronaut.core.annotation.Order;
import jakarta.inject.Singleton;

import java.util.List;

/** What {@code pg:info} says about a database's pooler. */
@Singleton
@Order(30)
final class PoolerInfo implements DatabaseInfo.Lines {
    private final Poolers poolers;
    private final Plans plans;

    PoolerInfo(Poolers poolers, Plans plans) {
        this.poolers = poolers;
        this.plans = plans;
    }

    @Override
    public List<DatabaseInfo.Line> lines(Database database) {
        return poolers.find(database.id()).map(p -> List.of(DatabaseInfo.Line.of("Connection Pooling", "Available on port " + p.port()
                + " (transaction mode, " + PgBouncerConfig.poolSize(plans.require(database.plan()).connections())
                + " server connections)"))).orElse(List.of());
    }
}
