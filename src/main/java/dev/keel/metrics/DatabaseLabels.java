package dev.keel.metrics;

import dev.keel.databases.Database;
import io.micrometer.core.instrument.Tags;
import jakarta.inject.Singleton;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The labels every per-database series carries: the database's name, its team's name and its
 * plan. Never an id that grants anything, a URL, a user name or a password.
 */
@Singleton
public final class DatabaseLabels {
    private final MetricsRepository repository;
    private final Map<UUID, String> teams = new ConcurrentHashMap<>();

    DatabaseLabels(MetricsRepository repository) {
        this.repository = repository;
    }

    public Tags of(Database database) {
        String team = teams.computeIfAbsent(database.teamId(), id -> {
            String name = repository.teamName(id);
            return name == null ? "unknown" : name;
        });
        return of(database.name(), team, database.plan());
    }

    static Tags of(String database, String team, String plan) {
        return Tags.of("database", database, "team", team, "plan", plan);
    }
}
