package dev.keel.databases;

import org.jooq.exception.DataAccessException;
import dev.keel.postgres.ServerSession;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import io.micronaut.core.annotation.Order;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code GET /v1/databases/{id}/info}: what {@code heroku pg:info} shows, as named lines. The
 * database's own lines come first; other capabilities add theirs ({@link Lines}).
 */
@Singleton
public final class DatabaseInfo {
    private final DatabaseRepository databases;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final List<Lines> contributors;

    DatabaseInfo(DatabaseRepository databases, InstanceRepository instances, InstanceConnections connections, List<Lines> contributors) {
        this.databases = databases;
        this.instances = instances;
        this.connections = connections;
        this.contributors = contributors;
    }

    @Serdeable
    public record Line(String name, List<String> values) {
        public static Line of(String name, String value) {
            return new Line(name, List.of(value));
        }
    }

    @Serdeable
    public record Info(String database, List<Line> info) {
    }

    /** Lines a capability adds about a database (ordered by {@link Order}). */
    public interface Lines {
        List<Line> lines(Database database);
    }

    public Info of(Database database) {
        List<Line> lines = new ArrayList<>();
        lines.add(Line.of("Plan", database.plan()));
        lines.add(Line.of("Status", database.state() == DatabaseState.AVAILABLE ? "Available" : capitalised(database.state().value())));
        lines.add(Line.of("PG Version", Integer.toString(database.major())));
        lines.add(Line.of("Created", database.createdAt().toInstant().toString()));
        instances.primary(database.id()).filter(i -> database.state() == DatabaseState.AVAILABLE)
                .ifPresent(primary -> lines.addAll(serverLines(database, primary)));
        databases.origin(database.id()).ifPresent(origin -> lines.add(switch (origin.kind()) {
            case FORK -> Line.of("Forked From", origin.fast() ? origin.sourceName() + " as of its base backup of "
                    + origin.backupFinishedAt() : origin.sourceName());
            case ROLLBACK -> Line.of("Rolled Back From", origin.sourceName() + " to " + origin.targetTime());
            case FOLLOW -> Line.of("Made From", "a follower of " + origin.sourceName());
        }));
        for (Lines contributor : contributors) {
            lines.addAll(contributor.lines(database));
        }
        return new Info(database.name(), lines);
    }

    private List<Line> serverLines(Database database, Instance primary) {
        try (ServerSession session = connections.open(primary, database.pgDatabase())) {
            ServerSession.DatabaseStats stats = session.databaseStats();
            return List.of(Line.of("Data Size", stats.prettySize()), Line.of("Tables", Long.toString(stats.tables())),
                    Line.of("Connections", stats.connections() + "/" + stats.maxConnections()));
        } catch (SQLException | DataAccessException e) {
            return List.of(Line.of("Data Size", "unknown: the server does not answer"));
        }
    }

    private static String capitalised(String word) {
        return Character.toUpperCase(word.charAt(0)) + word.substring(1);
    }
}
