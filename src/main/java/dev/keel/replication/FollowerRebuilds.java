package dev.keel.replication;

import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.problems.Failure;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Asks for a follower's rebuild ({@link FollowerRebuild}): an operation recorded for the node that
 * hosts the follower's server, which removes it and makes the new one there. The follower watch
 * asks for one when a follower lost its slot, diverged, has no server left, or runs another major
 * than its leader, or whose node is lost (then on another node); a leader's major upgrade asks for
 * one for each of its followers.
 */
@Singleton
public final class FollowerRebuilds {
    private static final Logger LOG = LoggerFactory.getLogger(FollowerRebuilds.class);

    private final OperationRepository operations;
    private final OperationRunner runner;
    private final InstanceRepository instances;
    private final Placement placement;
    private final DSLContext dsl;
    private final ThisNode node;
    /** Followers whose rebuild waits for their node's version, said once (the watch asks every round). */
    private final Set<UUID> deferred = ConcurrentHashMap.newKeySet();

    FollowerRebuilds(OperationRepository operations, OperationRunner runner, InstanceRepository instances, Placement placement,
                     DSLContext dsl, ThisNode node) {
        this.node = node;
        this.operations = operations;
        this.runner = runner;
        this.instances = instances;
        this.placement = placement;
        this.dsl = dsl;
    }

    /**
     * Whether a rebuild of {@code follower} is under way. One recorded for another node that is
     * silent past {@code keel.node.lost-after} is given up instead (failed, so that node does not
     * take it up again should it return), and the follower watch asks anew.
     */
    boolean running(Database follower) {
        Optional<Operation> running = underWay(follower);
        if (running.isEmpty()) {
            return false;
        }
        String runner = running.get().node();
        if (runner == null || runner.equals(node.name()) || !operations.giveUpOnSilent(running.get().id(), runner,
                Failure.of(ProblemType.UNAVAILABLE, "Node " + runner + " fell silent before it rebuilt the follower; the follower watch"
                        + " asks anew."))) {
            return true;
        }
        LOG.warn("Follower {}: node {}, which was rebuilding it (operation {}), is silent; the follower watch asks anew",
                follower.name(), runner, running.get().id());
        return false;
    }

    /** No rebuild of {@code follower} now, said once until one is recorded: it is not {@code done} ({@code why}), because of {@code cause}. */
    private Optional<Operation> deferred(Database follower, String done, String why, String cause) {
        if (deferred.add(follower.id())) {
            LOG.warn("Follower {} is not {} now ({}): {}", follower.name(), done, why, cause);
        }
        return Optional.empty();
    }

    /** Forgets the deferrals said of followers not among {@code following} (deleted, unfollowed). */
    void retainDeferred(Collection<UUID> following) {
        deferred.retainAll(following);
    }

    private Optional<Operation> underWay(Database follower) {
        return operations.running(follower.id(), EnumSet.of(OperationKind.REBUILD));
    }

    /**
     * Records a rebuild of {@code follower}, {@code why} its first step (and the reason its steps
     * give), and hands it to the node that hosts the follower's server; the rebuild already under
     * way instead, if there is one. None while that node cannot take it: it runs another version of
     * Keel (during a rolling upgrade, one that may not know every reason to rebuild), or is silent;
     * the follower watch asks again. A follower with no server left whose node is lost is made
     * anew elsewhere ({@link #askElsewhere}).
     */
    public Optional<Operation> ask(Database follower, String why) {
        Optional<Operation> running = underWay(follower);
        if (running.isPresent()) {
            return running;
        }
        Optional<String> host = operations.hostFor(follower.id()).filter(h -> !h.equals(node.name()));
        Optional<String> cannot = host.flatMap(placement::cannotTake);
        if (cannot.isPresent() && instances.primary(follower.id()).isEmpty() && placement.lost(host.get())) {
            return askElsewhere(follower, why); // no server left, and the node it was on is lost
        }
        if (cannot.isPresent()) {
            return deferred(follower, "rebuilt", why, cannot.get() + "; the follower watch asks again once that node can take it");
        }
        deferred.remove(follower.id());
        Operation operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), follower.teamId(), follower.id(),
                OperationKind.REBUILD, FollowerRebuild.Step.DECIDED, why, FollowerRebuild.STEP_COUNT));
        runner.submit(operation);
        return Optional.of(operation);
    }

    /**
     * Records a rebuild of {@code follower}, whose server's node is lost (or that has no server
     * left, and the node it was on is lost), for another node to make it on: the active node with
     * room hosting the fewest instances other than its leader's primary's when one has room, as a new follower's ({@link
     * Placement#chooseAndHold}), chosen and recorded under the placement lock, so that it counts
     * on that node's room from then on ({@code NodeRepository.pending}). The rebuild already under
     * way instead, if there is one; none when no node has room, or the one chosen runs another
     * version of Keel (the follower watch asks again).
     */
    public Optional<Operation> askElsewhere(Database follower, String why) {
        Optional<Operation> running = underWay(follower);
        if (running.isPresent()) {
            return running;
        }
        String leaderNode = instances.primary(follower.leaderId()).map(Instance::node).orElse(null);
        Optional<Operation> recorded;
        try {
            recorded = dsl.transactionResult(tx -> {
                String chosen = placement.chooseAndHold(tx.dsl(), leaderNode, new Placement.Demand(follower.plan(), 1, -1)).node();
                if (placement.otherVersion(tx.dsl(), chosen).isPresent()) {
                    return Optional.<Operation>empty();
                }
                return Optional.of(operations.create(tx.dsl(), follower.teamId(), follower.id(), OperationKind.REBUILD,
                        FollowerRebuild.Step.DECIDED, why, FollowerRebuild.STEP_COUNT, chosen));
            });
        } catch (KeelException e) {
            return deferred(follower, "made anew elsewhere", why, e.getMessage());
        }
        if (recorded.isEmpty()) {
            return deferred(follower, "made anew elsewhere", why, "the node with room runs another version of Keel; the follower watch"
                    + " asks again");
        }
        deferred.remove(follower.id());
        LOG.warn("Follower {}: its node is lost; it is made anew on node {} (operation {})", follower.name(), recorded.get().node(),
                recorded.get().id());
        runner.submit(recorded.get());
        return recorded;
    }
}
