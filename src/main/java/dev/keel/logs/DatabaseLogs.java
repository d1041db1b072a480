package dev.keel.logs;

import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.ServerLog;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Which server's log a request means, and its filters: {@code ?instance=} is {@code primary}
 * (the default), {@code standby} (the HA standby), an instance id of the database, or the name or
 * id of one of its followers (whose primary's log is given). Another team's database, and a
 * follower of another database, are not found.
 */
@Singleton
final class DatabaseLogs {
    static final int DEFAULT_LINES = 100;
    static final int MAX_LINES = 10_000;

    private final DatabaseLookup databases;
    private final InstanceRepository instances;

    DatabaseLogs(DatabaseLookup databases, InstanceRepository instances) {
        this.databases = databases;
        this.instances = instances;
    }

    record Source(Database database, Instance instance) {
    }

    Source source(Caller caller, String idOrName, @Nullable String instance) {
        Database database = databases.require(caller, idOrName);
        String which = instance == null || instance.isBlank() ? "primary" : instance.strip();
        Optional<Instance> found = switch (which) {
            case "primary" -> instances.primary(database.id());
            case "standby" -> instances.standby(database.id());
            default -> instances.forDatabase(database.id()).stream().filter(i -> i.id().toString().equals(which)).findFirst()
                    .or(() -> databases.followers(database.id()).stream()
                            .filter(f -> f.name().equals(which) || f.id().toString().equals(which)).findFirst()
                            .flatMap(f -> instances.primary(f.id())));
        };
        return new Source(database, found.orElseThrow(() -> KeelException.notFound("server",
                which + " of database " + database.name() + " (instance is primary, standby, an instance id or a follower's name)")));
    }

    static int lines(@Nullable Integer lines) {
        if (lines == null) {
            return DEFAULT_LINES;
        }
        if (lines < 1 || lines > MAX_LINES) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"lines\" is how many log entries to show, 1 to " + MAX_LINES + ".");
        }
        return lines;
    }

    static ServerLog.Filter filter(@Nullable String since, @Nullable String level) {
        Instant from = null;
        if (since != null && !since.isBlank()) {
            try {
                from = OffsetDateTime.parse(since.strip()).toInstant();
            } catch (DateTimeParseException e) {
                throw new KeelException(ProblemType.INVALID_REQUEST, "\"since\" is '" + since + "', which is not an RFC 3339 time with an"
                        + " offset; write it like 2026-11-26T10:15:42Z.");
            }
        }
        ServerLog.Level atLeast = null;
        if (level != null && !level.isBlank()) {
            List<String> names = Arrays.stream(ServerLog.Level.values()).map(l -> l.name().toLowerCase(Locale.ROOT)).toList();
            atLeast = ServerLog.Level.parse(level.strip()).orElseThrow(() -> new KeelException(ProblemType.INVALID_REQUEST,
                    "\"level\" is one of " + String.join(", ", names) + " (entries of that severity or more are shown).")
                    .with("valid_values", names));
        }
        return new ServerLog.Filter(from, atLeast);
    }
}
