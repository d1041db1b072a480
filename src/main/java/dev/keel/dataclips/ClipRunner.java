package dev.keel.dataclips;

import dev.keel.databases.Database;
import dev.keel.metrics.DatabaseLabels;
import dev.keel.tls.CertificateAuthority;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * Runs one clip version and stores its result. The query runs as the database's dataclip role,
 * inside a READ ONLY transaction that is always rolled back, with the clip's statement timeout,
 * reading at most the row cap (one more row only to tell that it was cut), on a fresh connection
 * that is closed after the run, so nothing of the session outlives it.
 */
@Singleton
final class ClipRunner {
    private static final Logger LOG = LoggerFactory.getLogger(ClipRunner.class);
    private static final int FETCH_ROWS = 2000;
    private static final int CHUNK_ROWS = 5000;
    private static final int CHUNK_BYTES = 1 << 20;
    /** Results of a clip (over all parameter values) whose rows are kept. */
    private static final int KEPT_RESULTS = 20;

    private final DataclipRoles roles;
    private final RunTarget targets;
    private final ResultRepository results;
    private final CertificateAuthority authority;
    private final int rowLimit;
    private final MeterRegistry meters;
    private final DatabaseLabels labels;

    ClipRunner(DataclipRoles roles, RunTarget targets, ResultRepository results, CertificateAuthority authority,
               @Value("${keel.dataclips.row-limit}") int rowLimit, MeterRegistry meters, DatabaseLabels labels) {
        this.meters = meters;
        this.labels = labels;
        this.roles = roles;
        this.targets = targets;
        this.results = results;
        this.authority = authority;
        this.rowLimit = rowLimit;
    }

    /** Runs {@code prepared} for {@code result} (state running) and records how it ended; never throws for the query's own errors. */
    void run(Dataclip clip, Database database, ClipResult result, ClipText.Prepared prepared, Map<String, String> values) {
        long started = System.nanoTime();
        String outcome = "failed";
        try {
            DataclipRoles.Login login = roles.loginFor(database);
            RunTarget.Server server = targets.choose(database);
            Connection connection;
            try {
                connection = open(server, login, clip.timeoutSeconds());
            } catch (SQLException e) {
                if (!RunTarget.FOLLOWER.equals(server.where()) || e.getSQLState() == null || !e.getSQLState().startsWith("28")) {
                    throw e;
                }
                // A role made a moment ago on the leader may not have reached the follower yet.
                server = targets.primary(database);
                connection = open(server, login, clip.timeoutSeconds());
            }
            results.ranOn(result.id(), server.where(), server.database().id());
            try (Connection c = connection) {
                query(c, clip, result, prepared, values);
            }
            outcome = "completed";
        } catch (SQLException e) {
            fail(result, prepared, e, clip.timeoutSeconds());
        } catch (RuntimeException e) {
            LOG.error("Dataclip {} result {} failed unexpectedly", clip.id(), result.id(), e);
            results.failed(result.id(), "Keel could not run the dataclip (an internal error, logged with result " + result.id()
                    + "); try again.", null, null);
        } finally {
            Timer.builder("keel.dataclip.runs").description("Dataclip runs, by database and how they ended, and how long they took")
                    .tags(labels.of(database).and("outcome", outcome)).register(meters)
                    .record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
    }

    private void query(Connection c, Dataclip clip, ClipResult result, ClipText.Prepared prepared, Map<String, String> values)
            throws SQLException {
        c.setAutoCommit(false);
        try {
            try (Statement begin = c.createStatement()) {
                begin.execute("set transaction isolation level repeatable read, read only");
            }
            try (PreparedStatement settings = c.prepareStatement(
                    "select set_config('statement_timeout', ?, true), set_config('TimeZone', 'UTC', true)")) {
                settings.setString(1, clip.timeoutSeconds() + "s");
                settings.execute();
            }
            long rows = 0;
            boolean truncated = false;
            try (PreparedStatement statement = c.prepareStatement(prepared.jdbcSql())) {
                List<String> uses = prepared.parameters();
                for (int i = 0; i < uses.size(); i++) {
                    statement.setObject(i + 1, values.get(uses.get(i)), Types.OTHER);
                }
                statement.setFetchSize(FETCH_ROWS);
                try (ResultSet rs = statement.executeQuery()) {
                    ResultSetMetaData meta = rs.getMetaData();
                    int columns = meta.getColumnCount();
                    List<String> fields = new ArrayList<>(columns);
                    List<ColumnType> types = new ArrayList<>(columns);
                    var typeInfo = c.unwrap(org.postgresql.core.BaseConnection.class).getTypeInfo();
                    for (int i = 1; i <= columns; i++) {
                        fields.add(meta.getColumnLabel(i));
                        String name = meta.getColumnTypeName(i);
                        types.add(new ColumnType(typeInfo.getPGType(name), name));
                    }
                    results.columns(result.id(), fields, types);
                    RowChunks.Writer chunk = new RowChunks.Writer(CHUNK_ROWS, CHUNK_BYTES);
                    int seq = 0;
                    while (rs.next()) {
                        if (rows == rowLimit) {
                            truncated = true;
                            break;
                        }
                        String[] row = new String[columns];
                        for (int i = 0; i < columns; i++) {
                            row[i] = rs.getString(i + 1);
                        }
                        chunk.add(row);
                        rows++;
                        if (chunk.full()) {
                            int n = chunk.rows();
                            results.addChunk(result.id(), seq++, n, chunk.finish());
                        }
                    }
                    if (chunk.rows() > 0) {
                        int n = chunk.rows();
                        results.addChunk(result.id(), seq, n, chunk.finish());
                    }
                }
            }
            if (heldAdvisoryLocks(c)) {
                results.failed(result.id(), "A dataclip may not take advisory locks (pg_advisory_lock and the like): they would outlive"
                        + " its read-only transaction. Keel released them; remove the call from the SQL.", null, null);
                return;
            }
            results.succeeded(result.id(), rows, truncated);
            results.dropOlderRows(clip.id(), result.parameters(), result.id());
            results.keepRowsOfNewest(clip.id(), KEPT_RESULTS);
        } finally {
            c.rollback();
        }
    }

    private static boolean heldAdvisoryLocks(Connection c) throws SQLException {
        try (Statement check = c.createStatement();
             ResultSet rs = check.executeQuery("select count(*) from pg_locks where pid = pg_backend_pid() and locktype = 'advisory'")) {
            rs.next();
            if (rs.getLong(1) == 0) {
                return false;
            }
        }
        try (Statement release = c.createStatement()) {
            release.execute("select pg_advisory_unlock_all()");
        }
        return true;
    }

    private void fail(ClipResult result, ClipText.Prepared prepared, SQLException e, int timeoutSeconds) {
        String state = e.getSQLState();
        ServerErrorMessage server = e instanceof PSQLException psql ? psql.getServerErrorMessage() : null;
        if (server == null) {
            String message = state != null && state.startsWith("08")
                    ? "Keel could not reach the database server (" + e.getMessage() + "); try again once the database is available."
                    : e.getMessage();
            results.failed(result.id(), message, null, state);
            return;
        }
        StringBuilder message = new StringBuilder(server.getMessage());
        long ranSeconds = java.time.Duration.between(result.startedAt(), java.time.OffsetDateTime.now()).toSeconds();
        if ("57014".equals(state) && ranSeconds >= timeoutSeconds - 1) { // cancelled by the time limit, not by an operator
            message.append(" (the dataclip's time limit is ").append(timeoutSeconds).append(" s)");
        }
        if (server.getDetail() != null) {
            message.append(". ").append(server.getDetail());
        }
        if (server.getHint() != null) {
            message.append(". Hint: ").append(server.getHint());
        }
        Integer position = server.getPosition() > 0 ? prepared.originalPosition(server.getPosition()) : null;
        results.failed(result.id(), message.toString(), position, state);
    }

    private Connection open(RunTarget.Server server, DataclipRoles.Login login, int timeoutSeconds) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", login.username());
        props.setProperty("password", login.password());
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", authority.certificateFile().toString());
        props.setProperty("connectTimeout", "10");
        props.setProperty("loginTimeout", "10");
        // The server's statement_timeout ends the query; this only guards against a server that stops answering.
        props.setProperty("socketTimeout", Integer.toString(timeoutSeconds + 60));
        props.setProperty("ApplicationName", "keel-dataclips");
        props.setProperty("binaryTransfer", "false");
        props.setProperty("prepareThreshold", "0");
        String host = server.instance().host().contains(":") ? "[" + server.instance().host() + "]" : server.instance().host();
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + server.instance().port() + "/"
                + server.database().pgDatabase(), props);
    }
}
