package dev.keel.lifecycle;

import dev.keel.credentials.Credentials;
import dev.keel.databases.Accepted;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseAvailable;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseState;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.auth.Caller;
import dev.keel.operations.Decision;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationHandler;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.replication.Followers;
import io.micronaut.context.event.ApplicationEventPublisher;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.util.List;
import java.util.function.Consumer;

/**
 * {@code POST /v1/databases/{id}/unfollow}: a follower becomes an independent, writable database
 * ({@link Followers#unfollow}), then gets its own archive, starting with its first base backup
 * ({@link DatabaseAvailable} again, now without a leader). Resumed after a crash.
 */
@Singleton
public final class DatabaseUnfollow implements OperationHandler {
    static final String CREDENTIALS = "giving the credentials new passwords";
    /** {@link Followers#unfollow}'s steps, then this one's own. */
    static final List<String> STEPS = List.of(Followers.PROMOTING, Followers.CONFIGURING, Followers.RELEASING, CREDENTIALS);

    private final DatabaseRepository databases;
    private final Followers followers;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final ApplicationEventPublisher<DatabaseAvailable> events;
    private final DSLContext dsl;
    private final Credentials credentials;
    private final InstanceRepository instances;
    private final InstanceConnections connections;

    DatabaseUnfollow(DatabaseRepository databases, Followers followers, OperationRepository operations, OperationRunner runner,
                     ApplicationEventPublisher<DatabaseAvailable> events, DSLContext dsl, Credentials credentials,
                     InstanceRepository instances, InstanceConnections connections) {
        this.credentials = credentials;
        this.instances = instances;
        this.connections = connections;
        this.databases = databases;
        this.followers = followers;
        this.operations = operations;
        this.runner = runner;
        this.events = events;
        this.dsl = dsl;
    }

    public Accepted accept(Caller caller, String idOrName) {
        Database database = databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName));
        if (!database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is not a follower; only a follower can be unfollowed.");
        }
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, database.name() + " is " + database.state().value()
                    + "; it can be unfollowed once it is available.");
        }
        Operation operation;
        try {
            operation = dsl.transactionResult(tx -> operations.create(tx.dsl(), caller.teamId(), database.id(),
                    OperationKind.UNFOLLOW, STEPS.get(0), STEPS.size()));
        } catch (IntegrityConstraintViolationException e) {
            throw operations.alreadyPending(database.id(), OperationKind.UNFOLLOW, "Unfollowing " + database.name());
        }
        runner.submit(operation);
        return new Accepted(database, operation);
    }

    @Override
    public OperationKind kind() {
        return OperationKind.UNFOLLOW;
    }

    @Override
    public void run(Operation operation) throws Exception {
        Database database = databases.find(operation.databaseId()).orElseThrow(() -> new KeelException(ProblemType.BEING_DELETED,
                "The follower was deleted before it could be unfollowed."));
        unfollow(database, step -> operations.progress(operation.id(), step, STEPS.indexOf(step), STEPS.size()));
        operations.progress(operation.id(), "unfollowed", STEPS.size(), STEPS.size());
    }

    /** Unfollows {@code follower} (the deletion of its leader does this too) and starts its own archive. */
    void unfollow(Database follower, Consumer<String> onStep) throws Exception {
        if (!follower.following()) {
            return;
        }
        followers.unfollow(follower, onStep);
        // Its server still has its leader's roles and passwords: they become its own, renewed, and the rest go.
        onStep.accept(CREDENTIALS);
        Instance primary = instances.primary(follower.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                follower.name() + " has no server."));
        credentials.adoptCopy(follower.id(), follower.leaderId(), follower.pgDatabase(), name -> connections.open(primary, name));
        databases.clearLeader(follower.id());
        databases.find(follower.id()).filter(d -> d.state() == DatabaseState.AVAILABLE)
                .ifPresent(d -> events.publishEvent(new DatabaseAvailable(d)));
    }

    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing unfollowing database " + operation.databaseId() + ": Keel stopped during step '"
                + operation.step() + "'");
    }
}
