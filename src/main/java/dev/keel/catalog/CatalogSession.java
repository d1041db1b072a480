package dev.keel.catalog;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * A catalog session of its own, outside the pool, that gives up within {@code timeoutSeconds} on
 * connecting and on every answer: for what must know at once whether the catalog answers (the
 * node's catalog contact, which the HA self-fence times), where the pool would wait for a
 * connection, or hold one whose packets are dropped, for its 30 s socket timeout.
 */
public final class CatalogSession {
    private CatalogSession() {
    }

    public static Connection open(CatalogLocation catalog, int timeoutSeconds, String applicationName) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", catalog.user());
        props.setProperty("password", catalog.password());
        props.setProperty("connectTimeout", Integer.toString(timeoutSeconds));
        props.setProperty("loginTimeout", Integer.toString(timeoutSeconds));
        props.setProperty("socketTimeout", Integer.toString(timeoutSeconds));
        props.setProperty("tcpKeepAlive", "true");
        props.setProperty("ApplicationName", applicationName);
        return DriverManager.getConnection(catalog.jdbcUrl(), props);
    }
}
