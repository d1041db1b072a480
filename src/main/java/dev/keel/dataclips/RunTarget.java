package dev.keel.dataclips;

import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.util.Optional;

/** Where a clip runs: on an available follower of its database when there is one, else on the database's own primary. */
@Singleton
final class RunTarget {
    static final String FOLLOWER = "follower";
    static final String PRIMARY = "primary";

    /** A server to run on; {@code where} is {@code follower} or {@code primary}. */
    record Server(String where, Database database, Instance instance) {
    }

    private final DatabaseLookup databases;
    private final InstanceRepository instances;

    RunTarget(DatabaseLookup databases, InstanceRepository instances) {
        this.databases = databases;
        this.instances = instances;
    }

    Server choose(Database database) {
        for (Database follower : databases.followers(database.id())) {
            if (follower.state() == DatabaseState.AVAILABLE && follower.following()) {
                Optional<Instance> instance = instances.primary(follower.id());
                // Not one left on the old major by the leader's upgrade until its rebuild: it replays nothing new.
                if (instance.isPresent() && instance.get().major() == database.major()) {
                    return new Server(FOLLOWER, follower, instance.get());
                }
            }
        }
        return primary(database);
    }

    /** The database's own server (a follower's own, when the clip belongs to a follower). */
    Server primary(Database database) {
        Instance instance = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "Database " + database.name() + " has no running server; wait until it is available."));
        return new Server(database.following() ? FOLLOWER : PRIMARY, database, instance);
    }
}
