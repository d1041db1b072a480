package dev.keel.problems;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.Arrays;

/** Telling a failure that is the catalog out of reach from any other: the API answers it 503, the HA monitor turns to its failsafe. */
public final class CatalogOutage {
    private CatalogOutage() {
    }

    /**
     * Whether {@code failure} is the catalog out of reach: the catalog pool found no connection in
     * time, or a statement on one of its connections (the pool's proxies are on the stack; Keel's
     * sessions with managed servers are not pooled) failed for want of a connection (SQLState class 08).
     */
    public static boolean is(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLTransientConnectionException) {
                return true;
            }
            if (cause instanceof SQLException sql && sql.getSQLState() != null && sql.getSQLState().startsWith("08")
                    && Arrays.stream(sql.getStackTrace()).anyMatch(f -> f.getClassName().startsWith("com.zaxxer.hikari."))) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }
}
