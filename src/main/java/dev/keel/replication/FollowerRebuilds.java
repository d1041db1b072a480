package dev.keel.replication;

import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.Placement;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Asks for a follower's rebuild ({@link FollowerRebuild}): an operation recorded for the node that
 * hosts the follower's server, which removes it and makes the new one there. The follower watch
 * asks for one when a follower lost its slot, diverged, has no server left, or runs another major
 * than its leader; a leader's major upgrade asks for one for each of its followers.
 */
@Singleton
public final class FollowerRebuilds {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerRebuilds.class);

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final InstanceRepository instances;
    private final Placement placement;
    private final DSLContext dsl;
    /** Followers whose rebuild waits for their node's version, said once (the watch asks every round). */
    private final Set<UUID> deferred = ConcurrentHashMap.newKeySet();

    FollowerRebuilds(OperationRepository operations, OperationRunner runner, InstanceRepository instances, Placement placement,
                     DSLContext dsl) {
        this.operations = operations;
        this.runner = runner;
        this.instances = instances;
        this.placement = placement;
        this.dsl = dsl;
    }

    /** Whether a rebuild of {@code follower} is under way. */
    boolean running(Database follower) {
        return underWay(follower).isPresent();
    }

    private Optional<Operation> underWay(Database follower) {
        return operations.running(follower.id(), EnumSet.of(OperationKind.REBUILD));
    }

    /**
     * Records a rebuild of {@code follower}, {@code why} its first step (and the reason its steps
     * give), and hands it to the node that hosts the follower's server; the rebuild already under
     * way instead, if there is one. None while that node runs another version of Keel (during a
     * rolling upgrade, one that may not know every reason to rebuild): the follower watch asks
     * again once it runs this one.
     */
    public Optional<Operation> ask(Database follower, String why) {
        Optional<Operation> running = underWay(follower);
        if (running.isPresent()) {
            return running;
        }
        Optional<String> otherVersion = instances.primary(follower.id()).map(Instance::node).flatMap(placement::otherVersion);
        if (otherVersion.isPresent()) {
            if (deferred.add(follower.id())) {
                LOG.warn("Follower {} is not rebuilt now ({}): {}; the follower watch asks again once its node runs this version",
                        follower.name(), why, otherVersion.get());
            }
            return Optional.empty();
        }
        deferred.remove(follower.id());
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), follower.teamId(), follower.id(),
                OperationKind.REBUILD, FollowerRebuild.Step.DECIDED, why, FollowerRebuild.STEP_COUNT));
        runner.submit(operation);
        return Optional.of(operation);
    }
}
