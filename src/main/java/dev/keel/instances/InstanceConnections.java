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
        String host = instance.host().contains(":") ? "[" + instance.host() + "]" : instance.host();
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + instance.port() + "/" + database, props);
    }
}
