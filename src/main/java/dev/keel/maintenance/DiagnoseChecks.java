package dev.keel.maintenance;

import dev.keel.maintenance.DiagnoseThresholds.Threshold;

import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

import static dev.keel.maintenance.DiagnoseThresholds.ALL;

/**
 * Heroku's {@code pg:diagnose} checks against one database, each graded green, yellow or red by
 * {@link DiagnoseThresholds} with the offending rows as its results; a check whose query fails is
 * {@code skipped} with the reason, and the others still run.
 */
final class DiagnoseChecks {
    private static final Logger LOG = LoggerFactory.getLogger(DiagnoseChecks.class);
    private static final List<String> ACTIVE = List.of("active");
    private static final long CHECK_MILLIS = 15_000;
    private static final long LOCK_MILLIS = 1_000;
    private static final long MIN_MILLIS = 500;
    private static final List<String> IDLE_IN_TRANSACTION = List.of("idle in transaction", "idle in transaction (aborted)");

    private DiagnoseChecks() {
    }

    @FunctionalInterface
    private interface Query {
        DiagnoseCheck run() throws SQLException;
    }

    /**
     * Every check, in the report's order, on {@code connection} (Keel's superuser on the database,
     * its search_path pinned), for a plan of {@code maxConnections} on a host whose load per CPU is
     * {@code loadPerCpu} (negative: unknown).
     */
    static List<DiagnoseCheck> run(Connection connection, int maxConnections, String keelRole, double loadPerCpu, Instant deadline) {
        List<DiagnoseCheck> checks = new ArrayList<>();
        Checker check = (threshold, query) -> check(connection, deadline, threshold, query);
        checks.add(check.check(DiagnoseThresholds.CONNECTIONS, () -> {
            long sessions = MaintenanceSql.clientSessions(connection);
            return new DiagnoseCheck(DiagnoseThresholds.CONNECTIONS.check(), DiagnoseThresholds.CONNECTIONS.grade((double) sessions / maxConnections),
                    List.of(Map.of("count", sessions, "max_connections", maxConnections)));
        }));
        checks.add(check.check(DiagnoseThresholds.LONG_QUERIES, () -> sessions(DiagnoseThresholds.LONG_QUERIES,
                MaintenanceSql.sessionsOlderThan(connection, "query_start", ACTIVE, DiagnoseThresholds.LONG_QUERIES.red(), keelRole))));
        checks.add(check.check(DiagnoseThresholds.LONG_TRANSACTIONS, () -> sessions(DiagnoseThresholds.LONG_TRANSACTIONS,
                MaintenanceSql.sessionsOlderThan(connection, "xact_start", List.of(), DiagnoseThresholds.LONG_TRANSACTIONS.yellow(),
                        keelRole))));
        checks.add(check.check(DiagnoseThresholds.IDLE_IN_TRANSACTION, () -> sessions(DiagnoseThresholds.IDLE_IN_TRANSACTION,
                MaintenanceSql.sessionsOlderThan(connection, "state_change", IDLE_IN_TRANSACTION, DiagnoseThresholds.IDLE_IN_TRANSACTION.red(),
                        keelRole))));
        checks.add(check.check(DiagnoseThresholds.INDEX_SIZE, () -> any(DiagnoseThresholds.INDEX_SIZE, "yellow", MaintenanceSql.unusedIndexes(
                connection, (long) DiagnoseThresholds.INDEX_MIN_BYTES, (long) DiagnoseThresholds.INDEX_LARGE_BYTES))));
        checks.add(check.check(DiagnoseThresholds.BLOAT, () -> any(DiagnoseThresholds.BLOAT, "red", MaintenanceSql.bloat(connection,
                (long) DiagnoseThresholds.BLOAT_MIN_WASTE_BYTES, DiagnoseThresholds.BLOAT.red()))));
        checks.add(check.check(DiagnoseThresholds.HIT_RATE, () -> any(DiagnoseThresholds.HIT_RATE, "red", MaintenanceSql.lowHitRates(connection,
                DiagnoseThresholds.HIT_RATE.red(), (long) DiagnoseThresholds.HIT_RATE_MIN_TABLE_BYTES))));
        checks.add(check.check(DiagnoseThresholds.BLOCKING, () -> any(DiagnoseThresholds.BLOCKING, "red",
                MaintenanceSql.blockingQueries(connection))));
        checks.add(check.check(DiagnoseThresholds.SEQUENCES, () -> graded(DiagnoseThresholds.SEQUENCES,
                MaintenanceSql.sequencesNearExhaustion(connection, DiagnoseThresholds.SEQUENCES.yellow()),
                row -> ((Number) row.get("used_pct")).doubleValue(), null)));
        checks.add(check.check(DiagnoseThresholds.UNLOGGED, () -> any(DiagnoseThresholds.UNLOGGED, "yellow",
                MaintenanceSql.unloggedTables(connection))));
        checks.add(check.check(DiagnoseThresholds.TABLE_WRAPAROUND, () -> graded(DiagnoseThresholds.TABLE_WRAPAROUND,
                MaintenanceSql.tablesNearWraparound(connection, (long) DiagnoseThresholds.TABLE_WRAPAROUND.yellow()),
                row -> ((Number) row.get("xid_age")).doubleValue(), null)));
        checks.add(check.check(DiagnoseThresholds.DATABASE_WRAPAROUND, () -> value(DiagnoseThresholds.DATABASE_WRAPAROUND, "xid_age",
                MaintenanceSql.databaseXidAge(connection))));
        checks.add(check.check(DiagnoseThresholds.SCHEMA_COUNT, () -> value(DiagnoseThresholds.SCHEMA_COUNT, "count",
                MaintenanceSql.schemaCount(connection))));
        checks.add(loadPerCpu < 0 ? new DiagnoseCheck(DiagnoseThresholds.LOAD.check(), "skipped", Map.of("error", "the host does not report its load"))
                : new DiagnoseCheck(DiagnoseThresholds.LOAD.check(), DiagnoseThresholds.LOAD.grade(loadPerCpu),
                        Map.of("load", String.format(Locale.ROOT, "%.2f per CPU", loadPerCpu))));
        if (checks.size() != ALL.size()) {
            throw new IllegalStateException("every threshold has its check");
        }
        return checks;
    }

    @FunctionalInterface
    private interface Checker {
        DiagnoseCheck check(Threshold threshold, Query query);
    }

    /**
     * Runs one check within what is left of the report's time (at most {@link #CHECK_MILLIS}),
     * waiting at most {@link #LOCK_MILLIS} for any lock; skipped, saying why, when it fails.
     */
    private static DiagnoseCheck check(Connection connection, Instant deadline, Threshold threshold, Query query) {
        long left = Duration.between(Instant.now(), deadline).toMillis();
        if (left < MIN_MILLIS) {
            return new DiagnoseCheck(threshold.check(), "skipped", Map.of("error", "Keel's time for this report ran out"));
        }
        try {
            MaintenanceSql.limitStatements(connection, Math.min(CHECK_MILLIS, left), LOCK_MILLIS);
            return query.run();
        } catch (SQLException | RuntimeException e) {
            String state = e instanceof SQLException sql ? sql.getSQLState() : e instanceof DataAccessException data ? data.sqlState() : null;
            LOG.warn("The diagnosis check {} could not run", threshold.check(), e);
            return new DiagnoseCheck(threshold.check(), "skipped", Map.of("error", "the check could not run"
                    + (state == null ? "" : " (SQLSTATE " + state + ")")));
        }
    }

    /** Sessions over the threshold, graded by the oldest; its age in seconds is for grading, not shown. */
    private static DiagnoseCheck sessions(Threshold threshold, List<Map<String, Object>> rows) {
        return graded(threshold, rows, row -> ((Number) row.get("seconds_old")).doubleValue(), "seconds_old");
    }

    private static DiagnoseCheck graded(Threshold threshold, List<Map<String, Object>> rows, ToDoubleFunction<Map<String, Object>> measure,
                                String hidden) {
        String status = "green";
        List<Map<String, Object>> shown = new ArrayList<>();
        for (Map<String, Object> row : rows) {
            String grade = threshold.grade(measure.applyAsDouble(row));
            status = worse(status, grade);
            Map<String, Object> copy = new LinkedHashMap<>(row);
            if (hidden != null) {
                copy.remove(hidden);
            }
            shown.add(copy);
        }
        return new DiagnoseCheck(threshold.check(), status, shown);
    }

    private static DiagnoseCheck any(Threshold threshold, String grade, List<Map<String, Object>> rows) {
        return new DiagnoseCheck(threshold.check(), rows.isEmpty() ? "green" : grade, rows);
    }

    private static DiagnoseCheck value(Threshold threshold, String name, long value) {
        return new DiagnoseCheck(threshold.check(), threshold.grade(value), Map.of(name, value));
    }

    private static String worse(String a, String b) {
        List<String> order = List.of("green", "yellow", "red");
        return order.indexOf(a) >= order.indexOf(b) ? a : b;
    }
}
