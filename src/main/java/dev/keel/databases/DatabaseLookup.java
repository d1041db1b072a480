package dev.keel.databases;

import dev.keel.auth.Caller;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/** Databases as other capabilities see them: found by id or name within the caller's team. */
@Singleton
public final class DatabaseLookup {
    private final DatabaseRepository databases;

    DatabaseLookup(DatabaseRepository databases) {
        this.databases = databases;
    }

    /** The caller's database {@code idOrName}; 404 when it does not exist or belongs to another team. */
    public Database require(Caller caller, String idOrName) {
        return databases.find(caller.teamId(), idOrName).orElseThrow(() -> KeelException.notFound("database", idOrName));
    }

    /** The caller's database, which must be {@code available}; 409 saying its state otherwise. */
    public Database requireAvailable(Caller caller, String idOrName) {
        Database database = require(caller, idOrName);
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; this needs it available.");
        }
        return database;
    }

    /** The caller's databases, in every state. */
    public List<Database> list(Caller caller) {
        return databases.list(caller.teamId());
    }

    public Optional<Database> find(UUID id) {
        return databases.find(id);
    }

    /** The databases following {@code leaderId}, oldest first, whatever their state. */
    public List<Database> followers(UUID leaderId) {
        return databases.followers(leaderId);
    }

    /** Ends following: {@code followerId} has no leader any more. */
    public void clearLeader(UUID followerId) {
        databases.clearLeader(followerId);
    }

    /** Records that the database's server now runs Postgres {@code major} (after an upgrade switched it). */
    public void changeMajor(UUID id, int major) {
        databases.setMajor(id, major);
    }

    /** Every available follower, of every team: what the follower watch checks. */
    public List<Database> following() {
        return databases.inState(DatabaseState.AVAILABLE).stream().filter(Database::following).toList();
    }

    /** The databases being deleted, of every team: work that keeps their WAL stops for them. */
    public Set<UUID> deleting() {
        return databases.inState(DatabaseState.DELETING).stream().map(Database::id).collect(Collectors.toSet());
    }

    /** The databases on one of {@code plans}, in every state, of every team. */
    public Set<UUID> onPlans(Set<String> plans) {
        return plans.isEmpty() ? Set.of() : databases.onPlans(plans);
    }

    /** Every available database that archives its own WAL (all but followers), of every team: the archive's scheduled work. */
    public List<Database> archiving() {
        return databases.inState(DatabaseState.AVAILABLE).stream().filter(d -> !d.following()).toList();
    }
}
