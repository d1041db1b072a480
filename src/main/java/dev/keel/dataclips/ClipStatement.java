package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.CachedQuery;
import org.postgresql.core.NativeQuery;
import org.postgresql.core.Parser;
import org.postgresql.core.QueryExecutor;
import org.postgresql.jdbc.PreferQueryMode;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * How a clip's text reaches the server: as ONE Parse message of the extended query protocol, on
 * which Postgres itself refuses a second command ("cannot insert multiple commands into a
 * prepared statement"), whatever {@link ClipText} or pgjdbc believe about quotes and comments.
 * pgjdbc splits a text at every ';' its own lexer sees outside quotes and sends each part as its
 * own Parse, so a text is sent only when pgjdbc's own parser, on the clip's connection, reads it
 * as one statement with the binds Keel will set; JDBC escape processing (which rewrites
 * {@code {fn ...}} and the like with that same lexer) must leave it unchanged.
 */
final class ClipStatement {
    private ClipStatement() {
    }

    /**
     * Early, before any connection: 422 when pgjdbc would not send {@code jdbcSql} as one statement
     * with {@code binds} parameters, under either setting of {@code standard_conforming_strings}
     * (the only server setting its lexer reads).
     */
    static void checkEarly(String jdbcSql, int binds) {
        for (boolean standardConformingStrings : new boolean[] {true, false}) {
            String problem;
            try {
                problem = problem(jdbcSql, binds, standardConformingStrings);
            } catch (SQLException e) {
                problem = "the driver Keel runs clips with cannot read it (" + e.getMessage() + ")";
            }
            if (problem != null) {
                throw invalid(problem);
            }
        }
    }

    /**
     * A statement for {@code sql} on a clip's connection that pgjdbc sends as one Parse message;
     * {@link KeelException} ({@code invalid-sql}) when pgjdbc, under this connection's settings,
     * reads it otherwise.
     */
    static PreparedStatement prepare(Connection connection, String sql, int binds) throws SQLException {
        BaseConnection base = connection.unwrap(BaseConnection.class);
        QueryExecutor executor = base.getQueryExecutor();
        if (executor.getPreferQueryMode() != PreferQueryMode.EXTENDED) {
            // The simple protocol sends the whole text in one Query message, which runs every statement in it.
            throw new IllegalStateException("a clip's connection must use the extended query protocol (preferQueryMode=extended)");
        }
        boolean standardConformingStrings = base.getStandardConformingStrings();
        if (!Parser.replaceProcessing(sql, true, standardConformingStrings).equals(sql)) {
            throw invalid(ESCAPES);
        }
        // The very parse pgjdbc's prepareStatement uses (its statement cache, keyed by the text).
        CachedQuery cached = executor.borrowQuery(sql);
        try {
            if (cached.query.getSubqueries() != null) {
                throw invalid(statements(cached.query.getSubqueries().length));
            }
            int found = cached.query.createParameterList().getParameterCount();
            if (found != binds) {
                throw invalid(binds(found, binds));
            }
        } finally {
            executor.releaseQuery(cached);
        }
        return connection.prepareStatement(sql);
    }

    private static String problem(String sql, int binds, boolean standardConformingStrings) throws SQLException {
        if (!Parser.replaceProcessing(sql, true, standardConformingStrings).equals(sql)) {
            return ESCAPES;
        }
        List<NativeQuery> queries = Parser.parseJdbcSql(sql, standardConformingStrings, true, true, false, false);
        if (queries.size() > 1) {
            return statements(queries.size());
        }
        int found = queries.isEmpty() ? 0 : queries.get(0).bindPositions.length;
        return found == binds ? null : binds(found, binds);
    }

    private static final String ESCAPES = "the driver Keel runs clips with would rewrite part of it as a JDBC escape ({fn ...}, {d ...},"
            + " {call ...}): a brace outside quotes is not SQL";

    private static String statements(int count) {
        return "the driver Keel runs clips with reads it as " + count + " statements (a ';' that Keel's check took to be inside a"
                + " quote, a dollar quote or a comment is outside one for the driver)";
    }

    private static String binds(int found, int expected) {
        return "the driver Keel runs clips with reads " + found + " parameters in it where Keel's check read " + expected
                + " (a '?' or {{name}} that one of them takes to be inside a quote or comment)";
    }

    private static KeelException invalid(String why) {
        return new KeelException(ProblemType.INVALID_SQL, "A dataclip is one statement, and " + why + ". Check the quotes, dollar quotes"
                + " and comments of the SQL.");
    }
}
