package dev.keel.replication;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Ends a standby's recovery: unfollowing a follower, promoting an HA standby. */
final class Promotion {
    private static final int WAIT_SECONDS = 60;

    private Promotion() {
    }

    /**
     * Promotes the server on {@code connection} unless it is a primary already, and waits until it
     * takes writes; returns whether it was promoted now. {@code who} names it in the error.
     */
    static boolean promote(Connection connection, String who) throws SQLException {
        try (Statement sql = connection.createStatement()) {
            try (ResultSet row = sql.executeQuery("select pg_is_in_recovery()")) {
                row.next();
                if (!row.getBoolean(1)) {
                    return false;
                }
            }
            try (ResultSet done = sql.executeQuery("select pg_promote(true, " + WAIT_SECONDS + ")")) {
                done.next();
                if (!done.getBoolean(1)) {
                    throw new KeelException(ProblemType.UNAVAILABLE, who + " did not finish promoting within " + WAIT_SECONDS
                            + " seconds; its log says why.");
                }
            }
            return true;
        }
    }
}
