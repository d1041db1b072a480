package dev.keel.dataclips;

import dev.keel.databases.Database;
import dev.keel.instances.InstanceConnections;
import dev.keel.metrics.DatabaseLabels;
import dev.keel.problems.KeelException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.convert.format.ReadableBytes;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Runs one clip version and stores its result: as the database's dataclip role, on a fresh
 * connection opened through {@link InstanceConnections} (search_path pinned at login, the
 * extended query protocol only) and closed after the run, so nothing of the session outlives it;
 * the query itself is {@link ClipQuery}'s.
 */
@Singleton
final class ClipRunner {
    private static final Logger LOG = LoggerFactory.getLogger(ClipRunner.class);
    /** Results of a clip (over all parameter values) whose rows are kept. */
    private static final int KEPT_RESULTS = 20;

    private final DataclipRoles roles;
    private final RunTarget targets;
    private final ResultRepository results;
    private final InstanceConnections connections;
    private final Caps caps;
    private final MeterRegistry meters;
    private final DatabaseLabels labels;

    ClipRunner(DataclipRoles roles, RunTarget targets, ResultRepository results, InstanceConnections connections,
               @Value("${keel.dataclips.row-limit}") int rowLimit, @Value("${keel.dataclips.result-bytes}") @ReadableBytes long resultBytes,
               @Value("${keel.dataclips.cell-bytes}") @ReadableBytes int cellBytes, MeterRegistry meters, DatabaseLabels labels) {
        this.meters = meters;
        this.labels = labels;
        this.roles = roles;
        this.targets = targets;
        this.results = results;
        this.connections = connections;
        this.caps = new Caps(rowLimit, resultBytes, cellBytes);
    }

    /** Runs {@code prepared} for {@code result} (state running) and records how it ended; never throws for the query's own errors. */
    void run(Dataclip clip, Database database, ClipResult result, ClipText.Prepared prepared, Map<String, String> values) {
        long started = System.nanoTime();
        String ended = "failed";
        try {
            DataclipRoles.Login login = roles.loginFor(database);
            RunTarget.Server server = targets.choose(database);
            boolean follower = !server.database().id().equals(database.id());
            Connection connection = open(server, login, clip.timeoutSeconds(), follower);
            if (connection == null) {
                // A role made or reshaped a moment ago on the leader may not have reached its follower yet.
                server = targets.primary(database);
                connection = open(server, login, clip.timeoutSeconds(), false);
            }
            results.ranOn(result.id(), server.where(), server.database().id());
            ClipQuery.Outcome outcome;
            try (Connection c = connection) {
                outcome = ClipQuery.run(c, prepared, values, clip.timeoutSeconds(), caps, new StoredRows(results, result.id()));
            }
            if (outcome.heldAdvisoryLocks()) {
                results.failed(result.id(), "A dataclip may not take advisory locks (pg_advisory_lock and the like): they would outlive"
                        + " its read-only transaction. Keel released them; remove the call from the SQL.", null, null);
                return;
            }
            Truncation truncation = outcome.truncation();
            if (!results.succeeded(result.id(), outcome.rows(), truncation, truncation == null ? null
                    : truncation.detail(caps, outcome.rows(), outcome.cellsCut(), outcome.cellLimit(), clip.timeoutSeconds()),
                    outcome.cellsCut() ? Integer.valueOf(outcome.cellLimit()) : null)) {
                return; // taken for stopped meanwhile: a newer run's rows may be the ones to keep
            }
            results.dropOlderRows(clip.id(), result.parameters(), result.id());
            results.keepRowsOfNewest(clip.id(), KEPT_RESULTS);
            ended = "completed";
        } catch (ClipQuery.Failed e) {
            results.failed(result.id(), e.getMessage(), e.position(), e.sqlstate());
        } catch (SQLException e) {
            String state = e.getSQLState();
            String message = state != null && state.startsWith("08")
                    ? "Keel could not reach the database server (" + e.getMessage() + "); try again once the database is available."
                    : e.getMessage();
            results.failed(result.id(), message, null, state);
        } catch (KeelException e) {
            results.failed(result.id(), e.getMessage(), null, null);
        } catch (RuntimeException e) {
            LOG.error("Dataclip {} result {} failed unexpectedly", clip.id(), result.id(), e);
            results.failed(result.id(), "Keel could not run the dataclip (an internal error, logged with result " + result.id()
                    + "); try again.", null, null);
        } finally {
            Timer.builder("keel.dataclip.runs").description("Dataclip runs, by database and how they ended, and how long they took")
                    .tags(labels.of(database).and("outcome", ended)).register(meters)
                    .record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * A connection to {@code server} as the role. On a {@code follower} of the clip's database,
     * null when the follower has not replayed the role's current shape yet (the login is refused,
     * or the role is still a member of pg_read_all_data there); elsewhere that is an error.
     */
    private @Nullable Connection open(RunTarget.Server server, DataclipRoles.Login login, int timeoutSeconds, boolean follower)
            throws SQLException {
        Connection connection;
        try {
            connection = open(server, login, timeoutSeconds);
        } catch (SQLException e) {
            if (follower && e.getSQLState() != null && e.getSQLState().startsWith("28")) {
                return null;
            }
            throw e;
        }
        try {
            if (DataclipSql.readsEverything(connection)) {
                connection.close();
                if (follower) {
                    return null;
                }
                throw new IllegalStateException("the dataclip role " + login.username() + " is still a member of pg_read_all_data on"
                        + " database " + server.database().id());
            }
        } catch (SQLException | RuntimeException e) {
            connection.close();
            throw e;
        }
        return connection;
    }

    Connection open(RunTarget.Server server, DataclipRoles.Login login, int timeoutSeconds) throws SQLException {
        Properties driver = new Properties();
        driver.setProperty("connectTimeout", "10");
        driver.setProperty("loginTimeout", "10");
        // The server's statement_timeout ends the query; this only guards against a server that stops answering.
        driver.setProperty("socketTimeout", Integer.toString(timeoutSeconds + 60));
        driver.setProperty("ApplicationName", "keel-dataclips");
        driver.setProperty("binaryTransfer", "false");
        driver.setProperty("prepareThreshold", "0");
        // One Parse message per statement: the server refuses a second command in it (see ClipStatement).
        driver.setProperty("preferQueryMode", "extended");
        return connections.openAs(server.instance(), server.database().pgDatabase(), login.username(), login.password(), driver);
    }
}
