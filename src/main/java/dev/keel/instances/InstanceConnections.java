package dev.keel.instances;

import dev.keel.tls.CertificateAuthority;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * Keel's own connections to an instance: as the {@code keel} superuser, over TLS verified
 * against the installation CA ({@code verify-full}), like any client should.
 */
@Singleton
public final class InstanceConnections {
    /** Sent at login: a tenant's functions, operators and views are never found ahead of the built-ins. */
    private static final String PINNED_SEARCH_PATH = "-c search_path=pg_catalog,pg_temp";

    private final InstanceRepository instances;
    private final CertificateAuthority authority;

    InstanceConnections(InstanceRepository instances, CertificateAuthority authority) {
        this.instances = instances;
        this.authority = authority;
    }

    /** A new superuser connection to {@code database} on {@code instance}; the caller closes it. */
    public Connection open(Instance instance, String database) throws SQLException {
        // A wedged server must not hold one of the few operation threads forever.
        return open(instance, database, 10, 120);
    }

    /**
     * A superuser connection for a health check: login and every answer within
     * {@code timeoutSeconds}, or an exception. A hung postmaster (stopped, say) accepts the TCP
     * connection yet never answers the login.
     */
    public Connection probe(Instance instance, int timeoutSeconds) throws SQLException {
        return open(instance, "postgres", timeoutSeconds, timeoutSeconds);
    }

    private Connection open(Instance instance, String database, int connectSeconds, int socketSeconds) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", InstanceConfig.SUPERUSER);
        props.setProperty("password", instances.superuserPassword(instance));
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", authority.certificateFile().toString());
        props.setProperty("connectTimeout", Integer.toString(connectSeconds));
        props.setProperty("loginTimeout", Integer.toString(connectSeconds));
        props.setProperty("socketTimeout", Integer.toString(socketSeconds));
        props.setProperty("ApplicationName", "keel");
        return DriverManager.getConnection(url(instance, database), props);
    }

    /**
     * A new connection to {@code database} on {@code instance} as {@code user}, a role other than
     * keel (a database's dataclip role), over the same verified TLS, with {@code search_path}
     * pinned to {@code pg_catalog, pg_temp} in the startup packet, so no setting of the tenant's
     * (ALTER DATABASE/ROLE ... SET) changes how its names resolve. {@code driver} adds pgjdbc
     * settings (timeouts, query mode, application name); it cannot change the user, TLS or options.
     * The caller closes the connection.
     */
    public Connection openAs(Instance instance, String database, String user, String password, Properties driver) throws SQLException {
        Properties props = new Properties();
        props.putAll(driver);
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", authority.certificateFile().toString());
        props.setProperty("options", PINNED_SEARCH_PATH);
        return DriverManager.getConnection(url(instance, database), props);
    }

    private static String url(Instance instance, String database) {
        String host = instance.host().contains(":") ? "[" + instance.host() + "]" : instance.host();
        return "jdbc:postgresql://" + host + ":" + instance.port() + "/" + database;
    }
}
