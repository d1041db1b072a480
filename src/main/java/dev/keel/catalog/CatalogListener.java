package dev.keel.catalog;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Pattern;

/**
 * A session of its own on the catalog that listens on one channel ({@code LISTEN}): a pooled
 * connection cannot be held for as long as a node runs. A broken session is opened again at the
 * next wait; what was notified meanwhile is lost, so a listener also looks on its own now and then.
 */
public final class CatalogListener implements AutoCloseable {
    private static final Pattern CHANNEL = Pattern.compile("[a-z_]{1,63}");

    private final CatalogLocation location;
    private final String channel;
    /** Opened and read by the one thread that waits; closed by any (a stop ends a wait). */
    private volatile Connection session;

    public CatalogListener(CatalogLocation location, String channel) {
        if (!CHANNEL.matcher(channel).matches()) {
            throw new IllegalArgumentException("not a channel name: " + channel);
        }
        this.location = location;
        this.channel = channel;
    }

    /**
     * Waits up to {@code millis} for a notification on the channel; says whether one came. Throws
     * when the catalog cannot be reached, or the listener was closed meanwhile (after closing the
     * session, so the next wait opens one). Called by one thread at a time.
     */
    public boolean await(int millis) throws SQLException {
        Connection current = session;
        try {
            if (current == null) {
                current = DriverManager.getConnection(location.jdbcUrl(), location.user(), location.password());
                session = current;
                try (Statement statement = current.createStatement()) {
                    statement.execute("listen " + channel);
                }
            }
            PGNotification[] received = current.unwrap(PGConnection.class).getNotifications(millis);
            return received != null && received.length > 0;
        } catch (SQLException e) {
            close();
            throw e;
        }
    }

    /** Ends the session, and with it a wait under way. */
    @Override
    public void close() {
        Connection current = session;
        session = null;
        if (current != null) {
            try {
                current.close();
            } catch (SQLException ignored) {
                // a broken session is ended by the server
            }
        }
    }
}
