package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Accepted;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseRemoving;
import dev.keel.databases.DatabaseRepository;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.RetiredServers;
import dev.keel.instances.InstanceRepository;
import dev.keel.operations.Decision;
import dev.keel.operations.HostedWork;
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

import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Deprovisioning: {@link #accept} moves the database to {@code deleting}; {@link #run} stops
 * and removes each instance (its server, its data, its port), its credentials, then asks every
 * capability to remove what it keeps ({@link DatabaseRemoving}: the archive and backups...), and
 * finally the database row. Every step may run again after a crash. A leader with followers is
 * deleted only when the request says to unfollow them first, which the deletion then does.
 */
@Singleton
public final class DatabaseDelete implements OperationHandler {
    private static final List<String> STEPS = List.of("unfollowing followers", "removing instances", "removing credentials",
            "removing the archive and other data", "removing the record");

    private static final long BUILD_PATIENCE_SECONDS = 60;

    private final DatabaseRepository databases;
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final ApplicationEventPublisher<DatabaseRemoving> events;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DSLContext dsl;
    private final HostedWork hostedWork;
    private final DatabaseUnfollow unfollow;
    private final RetiredServers retired;

    DatabaseDelete(RetiredServers retired, DatabaseUnfollow unfollow, DatabaseRepository databases, InstanceRepository instances, Credentials credentials,
                   ApplicationEventPublisher<DatabaseRemoving> events, OperationRepository operations, OperationRunner runner,
                   DSLContext dsl, HostedWork hostedWork) {
        this.retired = retired;
        this.hostedWork = hostedWork;
        this.unfollow = unfollow;
        this.events = events;
        this.databases = databases;
        this.instances = instances;
        this.credentials = credentials;
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    /**
     * Starts deleting the team's database {@code idOrName}; one already being deleted is gone
     * (404). A leader's followers must go first (409 naming them), unless {@code unfollowFollowers}.
     */
    public Accepted accept(Caller caller, String idOrName, boolean unfollowFollowers) {
        Database database = databases.find(caller.teamId(), idOrName)
                .orElseThrow(() -> KeelException.notFound("database", idOrName));
        if (database.state() == DatabaseState.DELETING) {
            return again(caller, database, idOrName);
        }
        List<Database> followers = databases.followers(database.id()).stream().filter(f -> f.state() != DatabaseState.DELETING).toList();
        String names = String.join(", ", followers.stream().map(Database::name).toList());
        if (!followers.isEmpty() && !unfollowFollowers) {
            throw new KeelException(ProblemType.HAS_FOLLOWERS, database.name() + " has followers: " + names + ". Delete or unfollow them"
                    + " first, or delete with ?unfollow_followers=true to make them independent databases.")
                    .with("followers", followers.stream().map(Database::name).toList());
        }
        if (followers.stream().anyMatch(f -> f.state() == DatabaseState.CREATING)) {
            throw new KeelException(ProblemType.HAS_FOLLOWERS, database.name() + " has followers still being created (" + names
                    + "); try again once they are available, or delete them first.");
        }
        for (Database follower : followers) {
            instances.primary(follower.id()).flatMap(hostedWork::otherHost)
                    .ifPresent(host -> hostedWork.requireTaker(host, "Unfollowing follower " + follower.name()));
        }
        Operation operation = dsl.transactionResult(tx -> {
            if (databases.transition(tx.dsl(), database.id(), DatabaseState.DELETING, null).isEmpty()) {
                throw KeelException.notFound("database", idOrName);
            }
            return operations.create(tx.dsl(), caller.teamId(), database.id(), OperationKind.DEPROVISION,
                    STEPS.get(followers.isEmpty() ? 1 : 0), STEPS.size());
        });
        runner.submit(operation);
        return new Accepted(databases.find(database.id()).orElseThrow(), operation);
    }

    /**
     * A database already being deleted is gone (404), unless its deletion failed part way (nothing
     * deletes it any more): asked again, the deletion runs again from where it stopped.
     */
    private Accepted again(Caller caller, Database database, String idOrName) {
        Operation operation = dsl.transactionResult(tx -> {
            databases.lockTeam(tx.dsl(), caller.teamId()); // two retries at once: the second finds the first's operation
            if (operations.running(database.id(), EnumSet.of(OperationKind.DEPROVISION)).isPresent()) {
                throw KeelException.notFound("database", idOrName);
            }
            return operations.create(tx.dsl(), caller.teamId(), database.id(), OperationKind.DEPROVISION, STEPS.get(1), STEPS.size());
        });
        runner.submit(operation);
        return new Accepted(database, operation);
    }

    @Override
    public OperationKind kind() {
        return OperationKind.DEPROVISION;
    }

    @Override
    public void run(Operation operation) throws Exception {
        UUID id = operation.databaseId();
        List<Database> followers = databases.followers(id);
        if (!followers.isEmpty()) {
            operations.progress(operation.id(), STEPS.get(0), 0, STEPS.size());
        }
        for (Database follower : followers) {
            Optional<String> host = instances.primary(follower.id()).flatMap(hostedWork::otherHost);
            if (follower.state() == DatabaseState.AVAILABLE && host.isPresent()) {
                // Its server is on another node, which promotes it (under the follower's own lease); this waits for it.
                hostedWork.carryOut(host.get(), follower.teamId(), follower.id(), OperationKind.UNFOLLOW, Followers.PROMOTING,
                        "Unfollowing follower " + follower.name());
            } else if (follower.state() == DatabaseState.AVAILABLE) {
                unfollow.unfollow(follower, step -> { });
            } else {
                databases.clearLeader(follower.id()); // failed or being deleted: it streams from nothing any more
            }
        }
        operations.progress(operation.id(), STEPS.get(1), 1, STEPS.size());
        Optional<Database> deleting = databases.find(id); // gone when a deletion that had ended is resumed
        if (deleting.isPresent()) {
            awaitStandbyBuild(id);
            retired.removeAll(deleting.get()); // a standby may be on another node than its primary
        }
        operations.progress(operation.id(), STEPS.get(2), 2, STEPS.size());
        credentials.deleteAll(id);
        operations.progress(operation.id(), STEPS.get(3), 3, STEPS.size());
        events.publishEvent(new DatabaseRemoving(id));
        operations.progress(operation.id(), STEPS.get(4), 4, STEPS.size());
        databases.delete(id);
        operations.progress(operation.id(), "deleted", STEPS.size(), STEPS.size());
    }

    /**
     * A standby build under way (it takes no lease) sees the deletion and stops, removing the
     * server it made; this waits for it (at most {@value #BUILD_PATIENCE_SECONDS} s), so that the
     * servers removed next include whatever it left. One queued here behind this deletion (a
     * database's operations run one at a time) has made nothing, and starts only after it, to
     * find the database gone: it is not waited for.
     */
    private void awaitStandbyBuild(UUID id) throws InterruptedException {
        Instant deadline = Instant.now().plusSeconds(BUILD_PATIENCE_SECONDS);
        while (operations.running(id, EnumSet.of(OperationKind.STANDBY)).filter(build -> !runner.waiting(build.id())).isPresent()
                && Instant.now().isBefore(deadline)) {
            Thread.sleep(200);
        }
    }

    @Override
    public Decision recover(Operation operation) {
        return Decision.resume(operation, "finishing the deletion of database " + operation.databaseId()
                + ": Keel stopped during step '" + operation.step() + "'");
    }
}
