package dev.keel.pooling;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/** Every pooler's figures at once, for {@code /metrics}: read through each one's admin console, a pooler that does not answer left out. */
@Singleton
public final class PoolFigures {
    private static final Logger LOG = LoggerFactory.getLogger(PoolFigures.class);

    private final PoolerRepository repository;
    private final DatabaseLookup databases;
    private final PoolerStats stats;

    PoolFigures(PoolerRepository repository, DatabaseLookup databases, PoolerStats stats) {
        this.repository = repository;
        this.databases = databases;
        this.stats = stats;
    }

    /** A pool's size (server connections it may open), its clients served and waiting, and its server connections in use and idle. */
    public record Figures(int poolSize, long clientsActive, long clientsWaiting, long serversActive, long serversIdle) {
    }

    /** The figures of each database that has a pooler, by database id. */
    public Map<UUID, Figures> all() throws InterruptedException {
        Map<UUID, Figures> figures = new HashMap<>();
        for (Pooler pooler : repository.all()) {
            Optional<Database> database = databases.find(pooler.databaseId());
            if (database.isEmpty()) {
                continue;
            }
            try {
                PoolerStats.Stats read = stats.of(database.get(), pooler);
                figures.put(pooler.databaseId(), new Figures(read.poolSize(), read.clientsActive(), read.clientsWaiting(),
                        read.serversActive(), read.serversIdle()));
            } catch (IOException | RuntimeException e) {
                LOG.debug("Could not read the pool figures of {}", database.get().name(), e);
            }
        }
        return figures;
    }
}
