package dev.keel.lifecycle;

import dev.keel.databases.Database;
import dev.keel.operations.Operation;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.operations.OperationRunner;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.sql.SQLException;
import java.util.Optional;
import java.util.Set;

/**
 * Asking for upgrades, as {@code POST /v1/databases/{id}/upgrade} and {@code pg:upgrade:*} do:
 * prepare (checked and recorded, to run later), run (the prepared one, or a new one), dry run,
 * cancel (a prepared one; one in progress is not stopped), and the newest one's state.
 */
@Singleton
public final class Upgrades {
    private final UpgradeRepository upgrades;
    private final UpgradeChecks checks;
    private final OperationRepository operations;
    private final OperationRunner runner;
    private final DSLContext dsl;

    Upgrades(UpgradeRepository upgrades, UpgradeChecks checks, OperationRepository operations, OperationRunner runner, DSLContext dsl) {
        this.upgrades = upgrades;
        this.checks = checks;
        this.operations = operations;
        this.runner = runner;
        this.dsl = dsl;
    }

    /** Checks the database and records the upgrade, to run later; 422 with what blocks it. */
    public Upgrade prepare(Database database, @Nullable Integer version) throws SQLException {
        int to = checks.target(database, version);
        checks.check(database);
        return open(() -> dsl.transactionResult(tx -> upgrades.insert(tx.dsl(), database.id(), database.major(), to, UpgradeState.PREPARED,
                false, null)), database);
    }

    /** Starts the prepared upgrade (at {@code version} when given) or, with none prepared, a new one, checked first. */
    public Upgrade run(Database database, @Nullable Integer version) throws SQLException {
        Optional<Upgrade> prepared = upgrades.newest(database.id()).filter(u -> u.state() == UpgradeState.PREPARED);
        int to = checks.target(database, version != null || prepared.isEmpty() ? version : Integer.valueOf(prepared.get().toMajor()));
        checks.check(database);
        Upgrade started = open(() -> dsl.transactionResult(tx -> {
            Operation operation = operations.create(tx.dsl(), database.teamId(), database.id(), OperationKind.UPGRADE,
                    DatabaseUpgrade.CHECKING, DatabaseUpgrade.STEPS.size());
            if (prepared.isPresent() && upgrades.start(tx.dsl(), prepared.get().id(), operation.id(), to)) {
                return upgrades.forOperation(tx.dsl(), operation.id());
            }
            return upgrades.insert(tx.dsl(), database.id(), database.major(), to, UpgradeState.RUNNING, false, operation.id());
        }), database);
        runner.submit(operations.find(database.teamId(), started.operationId()).orElseThrow());
        return started;
    }

    /** Starts a dry run: a throw-away copy of the database upgraded and timed; the database is unchanged. */
    public Upgrade dryRun(Database database, @Nullable Integer version) throws SQLException {
        int to = checks.target(database, version);
        checks.check(database);
        Upgrade started = open(() -> dsl.transactionResult(tx -> {
            Operation operation = operations.create(tx.dsl(), database.teamId(), database.id(), OperationKind.UPGRADE,
                    UpgradeDryRun.COPYING, DatabaseUpgrade.STEPS.size());
            return upgrades.insert(tx.dsl(), database.id(), database.major(), to, UpgradeState.RUNNING, true, operation.id());
        }), database);
        runner.submit(operations.find(database.teamId(), started.operationId()).orElseThrow());
        return started;
    }

    /** Cancels the prepared upgrade; 409 for one in progress (it cannot be stopped halfway), 404 when none is open. */
    public Upgrade cancel(Database database) {
        Upgrade newest = upgrades.newest(database.id()).filter(u -> u.state() == UpgradeState.PREPARED || u.state() == UpgradeState.RUNNING)
                .orElseThrow(() -> new KeelException(ProblemType.NOT_FOUND, database.name() + " has no upgrade prepared."));
        if (newest.state() == UpgradeState.RUNNING || !upgrades.finish(newest.id(), UpgradeState.CANCELED, "canceled")) {
            throw new KeelException(ProblemType.CONFLICT, "The upgrade of " + database.name() + " is in progress and cannot be canceled;"
                    + " wait for it (heroku pg:upgrade:wait).");
        }
        return upgrades.newest(database.id()).orElseThrow();
    }

    public Optional<Upgrade> newest(Database database) {
        return upgrades.newest(database.id());
    }

    /** The step an upgrade's operation is at, while it runs. */
    public Optional<String> step(Upgrade upgrade) {
        return upgrade.operationId() == null ? Optional.empty() : operations.running(upgrade.databaseId(), Set.of(OperationKind.UPGRADE))
                .filter(op -> op.id().equals(upgrade.operationId())).map(Operation::step);
    }

    /** A major given as 17, "17" or "17.2"; 422 otherwise. */
    public static Integer major(@Nullable Object version) {
        if (version == null || version.toString().isBlank()) {
            return null;
        }
        String text = version.toString().strip();
        try {
            return Integer.valueOf(text.contains(".") ? text.substring(0, text.indexOf('.')) : text);
        } catch (NumberFormatException e) {
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION, "\"version\" is a Postgres major version such as 17, not '" + text + "'.");
        }
    }

    private interface Insert {
        Upgrade insert();
    }

    private static Upgrade open(Insert insert, Database database) {
        try {
            return insert.insert();
        } catch (IntegrityConstraintViolationException e) {
            throw new KeelException(ProblemType.ALREADY_QUEUED, "An upgrade of " + database.name() + " is prepared or running already; run,"
                    + " wait for or cancel it (heroku pg:upgrade:run, pg:upgrade:wait, pg:upgrade:cancel).");
        }
    }
}
