package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TypeInfo;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One run of a clip's SQL on a connection as its database's dataclip role: in a READ ONLY
 * (repeatable read) transaction that is always rolled back, under the clip's time limit, the SQL
 * is first parsed alone by the server (one Parse message, so a second statement is refused
 * there, and a Describe that runs nothing) to learn its columns, then run inside
 * {@link CappedQuery}'s projection, its rows read a bounded batch at a time and handed to
 * {@link StoredRows} until they end or a cap says stop.
 */
final class ClipQuery {
    /** How a run ended that stored a result: rows kept, why fewer than the query returned (null: all), and whether it took advisory locks. */
    record Outcome(long rows, @Nullable Truncation truncation, boolean cellsCut, int cellLimit, boolean heldAdvisoryLocks) {
    }

    /** The query failed: a message for the result, where in the clip's SQL it points, and Postgres' SQLSTATE. */
    static final class Failed extends Exception {
        private final @Nullable Integer position;
        private final @Nullable String sqlstate;

        Failed(String message, @Nullable Integer position, @Nullable String sqlstate) {
            super(message);
            this.position = position;
            this.sqlstate = sqlstate;
        }

        @Nullable Integer position() {
            return position;
        }

        @Nullable String sqlstate() {
            return sqlstate;
        }
    }

    /** What the connection is pinned to at login (see InstanceConnections.openAs). */
    private static final String PINNED_PATH = "pg_catalog, pg_temp";
    /** Postgres' own default search_path. */
    private static final String DEFAULT_PATH = "\"$user\", public";
    private static final String NOT_A_QUERY = "A dataclip is a query that returns rows (SELECT, WITH, VALUES or TABLE); the server reads"
            + " this SQL as a statement that returns none.";

    private ClipQuery() {
    }

    static Outcome run(Connection c, ClipText.Prepared prepared, Map<String, String> values, int timeoutSeconds, Caps caps, StoredRows rows)
            throws SQLException, Failed {
        long started = System.nanoTime();
        long deadline = started + timeoutSeconds * 1_000_000_000L;
        c.setAutoCommit(false);
        try {
            DataclipSql.beginReadOnly(c);
            DataclipSql.runSettings(c, timeoutSeconds);
            // The clip's own SQL resolves names as the database's sessions do; the connection is pinned to pg_catalog, pg_temp.
            String tenantPath = DataclipSql.databaseSearchPath(c).orElse(DEFAULT_PATH);
            List<ColumnType> types = describe(c, prepared, values, rows, tenantPath, timeoutSeconds, started);
            CappedQuery.Plan plan = CappedQuery.of(prepared.jdbcSql(), types, caps);
            Read read = new Read();
            boolean ended = false;
            DataclipSql.searchPath(c, tenantPath);
            try (PreparedStatement query = ClipStatement.prepare(c, plan.sql(), prepared.parameters().size())) {
                bind(query, prepared, values);
                query.setFetchSize(plan.fetchRows());
                try (ResultSet rs = query.executeQuery()) {
                    read.all(rs, types.size(), plan, caps, deadline, rows);
                }
            } catch (SQLException e) {
                if (!"57014".equals(e.getSQLState()) || read.rows == 0 || !timeUp(started, timeoutSeconds)) {
                    throw failed(e, prepared, plan, timeoutSeconds, started);
                }
                // The time limit ended the statement while its rows arrived: keep those, cut there.
                read.truncation = Truncation.TIME_LIMIT;
                c.rollback(); // the advisory lock check below runs in a new transaction, on the pinned path again
                ended = true;
            }
            rows.finish();
            if (!ended) {
                DataclipSql.searchPath(c, PINNED_PATH);
            }
            Truncation truncation = read.truncation != null ? read.truncation : read.cellsCut ? Truncation.CELL_BYTES : null;
            return new Outcome(read.rows, truncation, read.cellsCut, plan.cellLimit(), DataclipSql.releasedAdvisoryLocks(c));
        } finally {
            c.rollback();
        }
    }

    /** The rows read so far and why the reading stopped early. */
    private static final class Read {
        long rows;
        long bytes;
        boolean cellsCut;
        @Nullable Truncation truncation;

        void all(ResultSet rs, int columns, CappedQuery.Plan plan, Caps caps, long deadline, StoredRows out) throws SQLException {
            int lostColumn = plan.flagged() ? columns + 1 : 0;
            while (rs.next()) {
                if (rows == caps.rowLimit()) {
                    truncation = Truncation.ROW_LIMIT;
                    return;
                }
                if (System.nanoTime() - deadline > 0) {
                    truncation = Truncation.TIME_LIMIT;
                    return;
                }
                byte[][] row = new byte[columns][];
                long size = 0;
                for (int i = 0; i < columns; i++) {
                    // The raw UTF-8 text the server sent: no String is made of it (every column is text or a small fixed type, never bytea).
                    row[i] = rs.getBytes(i + 1);
                    size += row[i] == null ? 0 : row[i].length;
                }
                if (bytes + size > caps.resultBytes()) {
                    truncation = Truncation.RESULT_BYTES;
                    return;
                }
                if (lostColumn > 0 && rs.getBoolean(lostColumn)) {
                    cellsCut = true;
                }
                out.add(row);
                bytes += size;
                rows++;
            }
        }
    }

    /**
     * The clip's SQL alone, parsed and described by the server (nothing runs): its columns, given
     * to {@code rows}. Fails when the server refuses it or it returns no rows.
     */
    private static List<ColumnType> describe(Connection c, ClipText.Prepared prepared, Map<String, String> values, StoredRows rows,
                                             String tenantPath, int timeoutSeconds, long started) throws SQLException, Failed {
        try (PreparedStatement alone = ClipStatement.prepare(c, prepared.jdbcSql(), prepared.parameters().size())) {
            bind(alone, prepared, values);
            DataclipSql.searchPath(c, tenantPath);
            ResultSetMetaData meta = alone.getMetaData();
            // pgjdbc looks up the names of types it does not know with SQL of its own: not on the tenant's path.
            DataclipSql.searchPath(c, PINNED_PATH);
            if (meta == null) {
                throw new Failed(NOT_A_QUERY, null, null);
            }
            TypeInfo typeInfo = c.unwrap(BaseConnection.class).getTypeInfo();
            List<String> fields = new ArrayList<>(meta.getColumnCount());
            List<ColumnType> types = new ArrayList<>(meta.getColumnCount());
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                fields.add(meta.getColumnLabel(i));
                String name = meta.getColumnTypeName(i);
                types.add(ColumnType.described(typeInfo.getPGType(name), name, meta.getColumnType(i)));
            }
            rows.columns(fields, types);
            return types;
        } catch (SQLException e) {
            throw failed(e, prepared, null, timeoutSeconds, started);
        }
    }

    private static void bind(PreparedStatement statement, ClipText.Prepared prepared, Map<String, String> values) throws SQLException {
        List<String> uses = prepared.parameters();
        for (int i = 0; i < uses.size(); i++) {
            statement.setObject(i + 1, values.get(uses.get(i)), Types.OTHER);
        }
    }

    /** Postgres' error as the result shows it: message, detail, hint, and the position in the clip's SQL. */
    private static Failed failed(SQLException e, ClipText.Prepared prepared, @Nullable CappedQuery.Plan plan, int timeoutSeconds,
                                 long started) throws SQLException {
        ServerErrorMessage server = e instanceof PSQLException psql ? psql.getServerErrorMessage() : null;
        if (server == null) {
            throw e; // not the query's own error: the connection's
        }
        StringBuilder message = new StringBuilder(server.getMessage());
        if ("57014".equals(e.getSQLState()) && timeUp(started, timeoutSeconds)) { // the time limit, not an operator's cancel
            message.append(" (the dataclip's time limit is ").append(timeoutSeconds).append(" s)");
        }
        if (server.getDetail() != null) {
            message.append(". ").append(server.getDetail());
        }
        if (server.getHint() != null) {
            message.append(". Hint: ").append(server.getHint());
        }
        int position = server.getPosition();
        if (plan != null && position > 0) {
            position = plan.clipPosition(position);
        }
        return new Failed(message.toString(), position > 0 ? prepared.originalPosition(position) : null, e.getSQLState());
    }

    private static boolean timeUp(long started, int timeoutSeconds) {
        return System.nanoTime() - started >= (timeoutSeconds - 1) * 1_000_000_000L;
    }

}
