package dev.keel.maintenance;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.SQLException;

/** Keel's superuser sessions on a database's own server (a follower's is its own), their search_path pinned. */
@Singleton
final class Servers {
    private final InstanceRepository instances;
    private final InstanceConnections connections;

    Servers(InstanceRepository instances, InstanceConnections connections) {
        this.instances = instances;
        this.connections = connections;
    }

    /** A session on {@code pgDatabase} (the database itself, or {@code postgres}) of {@code database}'s server; the caller closes it. */
    Connection open(Database database, String pgDatabase) {
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; this needs it available.");
        }
        Instance server = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no running server."));
        try {
            Connection connection = connections.open(server, pgDatabase).pinnedConnection();
            MaintenanceSql.pin(connection);
            return connection;
        } catch (SQLException e) {
            throw unavailable(database);
        }
    }

    static KeelException unavailable(Database database) {
        return new KeelException(ProblemType.UNAVAILABLE, database.name() + "'s server does not answer; try again in a minute.");
    }

    static void requireWritable(Database database, String what) {
        if (database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower, a read-only copy of its leader: "
                    + what + " its leader instead, or unfollow it first.");
        }
    }
}
