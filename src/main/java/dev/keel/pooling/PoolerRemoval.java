package dev.keel.pooling;

import dev.keel.databases.DatabaseRemoving;
import io.micronaut.context.event.ApplicationEventListener;
import jakarta.inject.Singleton;

/** A deleted database's pooler is stopped and removed with it. */
@Singleton
final class PoolerRemoval implements ApplicationEventListener<DatabaseRemoving> {
    private final Poolers poolers;

    PoolerRemoval(Poolers poolers) {
        this.poolers = poolers;
    }

    @Override
    public void onApplicationEvent(DatabaseRemoving event) {
        poolers.remove(event.databaseId());
    }
}
