package dev.keel.lifecycle;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.ClientTools;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * What must hold before an upgrade starts, checked again when it runs: a served major above the
 * database's, a leader that is available, the client tools to copy its schema, and nothing that
 * logical replication cannot carry (tables without a replica identity, large objects, unlogged
 * tables), each named in a 422 with what to do about it.
 */
@Singleton
final class UpgradeChecks {
    private final PostgresBinaries binaries;
    private final ClientTools tools;
    private final InstanceRepository instances;
    private final InstanceConnections connections;

    /** The first major whose subscriptions apply rows as each table's owner (run_as_owner = false), not as a superuser. */
    static final int FIRST_SAFE_TARGET = 16;

    UpgradeChecks(PostgresBinaries binaries, ClientTools tools, InstanceRepository instances, InstanceConnections connections) {
        this.binaries = binaries;
        this.tools = tools;
        this.instances = instances;
        this.connections = connections;
    }

    /** The major to upgrade to: {@code requested}, or the newest served when none is. */
    int target(Database database, Integer requested) {
        int to = requested == null ? binaries.supportedMajors().get(binaries.supportedMajors().size() - 1)
                : binaries.requireSupported(requested);
        if (to <= database.major()) {
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION, database.name() + " runs Postgres " + database.major()
                    + "; an upgrade goes to a newer major, such as " + binaries.supportedMajors().get(binaries.supportedMajors().size() - 1)
                    + ".").with("valid_values", binaries.supportedMajors().stream().filter(m -> m > database.major()).toList());
        }
        if (to < FIRST_SAFE_TARGET) {
            // Before 16 the new server applies the stream as the subscription's owner, who must be a superuser: the tenant's
            // triggers (ENABLE ALWAYS), index expressions, check constraints and generated columns would run as superuser.
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION, "An upgrade to Postgres " + to + " would replay " + database.name()
                    + "'s rows as a superuser (before 16, Postgres applies logical replication as a superuser), running the"
                    + " database's own triggers and functions with every right; upgrade to " + FIRST_SAFE_TARGET + " or later.")
                    .with("valid_values", binaries.supportedMajors().stream().filter(m -> m > database.major() && m >= FIRST_SAFE_TARGET)
                            .toList());
        }
        return to;
    }

    /** Everything but the data (see the class comment); throws the first failing check. */
    void check(Database database) throws SQLException {
        if (database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower; upgrade its leader (its followers"
                    + " are rebuilt on the new major), or unfollow it first.");
        }
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; an upgrade needs it available.");
        }
        tools.require("pg_dump", database.major());
        tools.require("psql", 1);
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                database.name() + " has no server."));
        List<String> problems = new ArrayList<>();
        try (Connection connection = connections.open(primary, database.pgDatabase()).pinnedConnection()) {
            List<String> noIdentity = UpgradeSql.tablesWithoutReplicaIdentity(connection);
            if (!noIdentity.isEmpty()) {
                problems.add("tables without a replica identity (add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL): "
                        + String.join(", ", noIdentity));
            }
            long largeObjects = UpgradeSql.largeObjects(connection);
            if (largeObjects > 0) {
                problems.add(largeObjects + " large objects, which logical replication does not copy (store them as bytea, or"
                        + " lo_unlink them)");
            }
            List<String> unlogged = UpgradeSql.unloggedTables(connection);
            if (!unlogged.isEmpty()) {
                problems.add("unlogged tables, whose rows logical replication does not copy (ALTER TABLE ... SET LOGGED): "
                        + String.join(", ", unlogged));
            }
        }
        if (!problems.isEmpty()) {
            throw new KeelException(ProblemType.UPGRADE_BLOCKED, database.name() + " holds what logical replication cannot carry to"
                    + " the new major: " + String.join("; ", problems) + ". Change that and ask again.").with("problems", problems);
        }
    }
}
