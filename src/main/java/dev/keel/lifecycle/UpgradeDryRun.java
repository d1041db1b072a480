package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.BeanProvider;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code pg:upgrade:dryrun}: a fork of the database made now, upgraded the same way the database
 * would be, timed, and deleted; the database itself is only read (its archive, for the fork). The
 * outcome (or what stopped it) is the operation's and the upgrade's message.
 */
@Singleton
final class UpgradeDryRun {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeDryRun.class);
    static final String COPYING = "making a throw-away copy";
    private static final Duration COPY_PATIENCE = Duration.ofHours(2);

    private final DatabaseCreate create;
    private final DatabaseDelete delete;
    private final DatabaseLookup databases;
    private final UpgradeRepository upgrades;
    private final BeanProvider<DatabaseUpgrade> engine;

    UpgradeDryRun(DatabaseCreate create, DatabaseDelete delete, DatabaseLookup databases, UpgradeRepository upgrades,
                  BeanProvider<DatabaseUpgrade> engine) {
        this.create = create;
        this.delete = delete;
        this.databases = databases;
        this.upgrades = upgrades;
        this.engine = engine;
    }

    /** Where a dry run reports its steps. */
    interface Steps {
        void at(String name, int index);
    }

    String run(Upgrade upgrade, Steps steps) throws Exception {
        Database source = databases.find(upgrade.databaseId()).orElseThrow();
        Caller caller = internal(source);
        steps.at(COPYING, 0);
        String name = "upgrade-dryrun-" + UUID.randomUUID().toString().substring(0, 8);
        Accepted fork = create.accept(caller, new CreateDatabaseRequest(source.plan(), name, null, source.id().toString(), null, null,
                null, null, null));
        UUID copy = fork.database().id();
        upgrades.copy(upgrade.id(), copy);
        try {
            Database ready = awaitAvailable(copy);
            long started = System.nanoTime();
            String outcome = engine.get().upgrade(upgrade, ready, step -> steps.at(step, 0));
            return "dry run on a copy of " + source.name() + ": " + outcome + "; it took " + String.format(Locale.ROOT, "%.0f",
                    (System.nanoTime() - started) / 1e9) + " s, and the copy was removed";
        } finally {
            remove(caller, copy);
        }
    }

    /** Removes the copy of a dry run Keel stopped during. */
    void abandon(Upgrade upgrade) {
        if (upgrade.copyId() != null) {
            databases.find(upgrade.databaseId()).ifPresent(source -> remove(internal(source), upgrade.copyId()));
        }
    }

    private Database awaitAvailable(UUID copy) throws InterruptedException {
        Instant deadline = Instant.now().plus(COPY_PATIENCE);
        while (Instant.now().isBefore(deadline)) {
            Optional<Database> database = databases.find(copy);
            if (database.isEmpty() || database.get().state() == DatabaseState.FAILED) {
                throw new KeelException(ProblemType.UNAVAILABLE, "The throw-away copy could not be made: "
                        + database.map(Database::stateReason).orElse("it was deleted"));
            }
            if (database.get().state() == DatabaseState.AVAILABLE) {
                return database.get();
            }
            Thread.sleep(500);
        }
        throw new KeelException(ProblemType.UNAVAILABLE, "The throw-away copy was not ready within " + COPY_PATIENCE.toHours() + " hours.");
    }

    private void remove(Caller caller, UUID copy) {
        try {
            if (databases.find(copy).isPresent()) {
                delete.accept(caller, copy.toString(), false);
            }
        } catch (RuntimeException e) {
            LOG.warn("Could not delete the dry run's copy {}; delete it by hand", copy, e);
        }
    }

    private static Caller internal(Database source) {
        return new Caller(source.teamId(), new UUID(0, 0), false);
    }
}
