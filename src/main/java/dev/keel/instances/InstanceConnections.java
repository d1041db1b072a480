package dev.keel.instances;

import dev.keel.postgres.PortRange;
import dev.keel.postgres.ReplicationSession;
import dev.keel.postgres.ServerSession;
import dev.keel.tls.CertificateAuthority;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The only place Keel opens connections to managed servers: as the {@code keel} superuser (a
 * {@link ServerSession}), over TLS verified against the installation CA ({@code verify-full}),
 * like any client should, with settings in the startup packet that a tenant's
 * {@code ALTER DATABASE/ROLE ... SET} cannot override.
 */
@Singleton
public final class InstanceConnections {
    private static final Logger LOG = LoggerFactory.getLogger(InstanceConnections.class);
    /**
     * Settings every Keel session starts with. {@code search_path} lists {@code pg_catalog} first
     * and {@code pg_temp} last (unlisted, each would be searched first): nothing a tenant creates
     * can shadow a built-in. {@code role=none} keeps the session its login role: an owner's
     * {@code ALTER DATABASE ... SET role} would otherwise turn Keel's superuser into the owner. The
     * rest undo what a tenant may set on its database to make Keel's own statements fail (Keel
     * bounds its waits with socket timeouts instead), or read otherwise
     * ({@code standard_conforming_strings}: a literal Keel inlines means what it says). Servers of
     * major 17 on have one timeout more ({@link #pinnedOptions}).
     */
    private static final String PINNED_OPTIONS = "-c role=none -c search_path=pg_catalog,pg_temp -c default_transaction_read_only=off"
            + " -c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0 -c idle_session_timeout=0"
            + " -c standard_conforming_strings=on";
    /**
     * What every Keel session to a server of major {@code major} pins (as a startup packet's or
     * {@code PGOPTIONS}' options): {@code transaction_timeout} too from 17, where it exists (an
     * older server refuses a setting it does not know).
     */
    public static String pinnedOptions(int major) {
        return major >= 17 ? PINNED_OPTIONS + " -c transaction_timeout=0" : PINNED_OPTIONS;
    }

    /**
     * What a dataclip's session pins: its own role, the search_path, and {@code bytea_output=hex}, so
     * that a {@code bytea} cell's text is {@code \\x...} whatever the owner set on the database
     * ({@code escape} would give the bytes as they are: {@code =HYPERLINK(...)} in a CSV).
     */
    private static final String PINNED_CLIP_OPTIONS = "-c role=none -c search_path=pg_catalog,pg_temp -c bytea_output=hex";

    private final InstanceRepository instances;
    private final CertificateAuthority authority;
    /** Each instance's superuser password as last read from the catalog, for {@link #probeWithoutCatalog}. */
    private final Map<UUID, String> lastRead = new ConcurrentHashMap<>();

    InstanceConnections(InstanceRepository instances, CertificateAuthority authority) {
        this.instances = instances;
        this.authority = authority;
    }

    /** How long a session {@link #open} made waits for any one answer: a statement that may wait longer must not use one. */
    public static final int SOCKET_SECONDS = 120;

    /** A new superuser session on {@code database} of {@code instance}; the caller closes it. */
    public ServerSession open(Instance instance, String database) throws SQLException {
        // A wedged server must not hold one of the few operation threads forever.
        return new ServerSession(connect(instance, database, 10, SOCKET_SECONDS));
    }

    /**
     * A superuser session for a health check: login and every answer within
     * {@code timeoutSeconds}, or an exception. A hung postmaster (stopped, say) accepts the TCP
     * connection yet never answers the login.
     */
    public ServerSession probe(Instance instance, int timeoutSeconds) throws SQLException {
        return new ServerSession(connect(instance, "postgres", timeoutSeconds, timeoutSeconds));
    }

    /**
     * {@link #probe}, with the superuser password last read for {@code instance} rather than the
     * catalog: for the HA monitor while the catalog cannot be reached. Fails when this process never
     * read it (or the instance was rotated since, and the server refuses the old one).
     */
    public ServerSession probeWithoutCatalog(Instance instance, int timeoutSeconds) throws SQLException {
        String password = lastRead.get(instance.id());
        if (password == null) {
            throw new SQLException("the superuser password of instance " + instance.id() + " was not read before the catalog went"
                    + " out of reach", "08001");
        }
        return new ServerSession(connect(instance, "postgres", password, timeoutSeconds, timeoutSeconds));
    }

    /**
     * Reads {@code instance}'s superuser password now, once, for {@link #probeWithoutCatalog}: a
     * server this node never connected to (its primary's standby on another node) can then be
     * checked during a catalog outage too.
     */
    public void remember(Instance instance) {
        if (!lastRead.containsKey(instance.id())) {
            try {
                lastRead.putIfAbsent(instance.id(), instances.superuserPassword(instance)); // read outside the map's locks
            } catch (RuntimeException e) {
                LOG.debug("Could not read the superuser password of instance {} ahead: {}", instance.id(), e.getMessage());
            }
        }
    }

    /**
     * A physical replication connection as the superuser, for the WAL receiver: the same verified
     * TLS and pinned settings, in the simple query mode replication commands need. A server that
     * stops answering fails its reads within {@code socketSeconds}.
     */
    public ReplicationSession openReplication(Instance instance, int socketSeconds) throws SQLException {
        return openReplication(instance, socketSeconds, "keel_wal_receiver");
    }

    /** As above, named {@code applicationName} in the server's views and log. */
    public ReplicationSession openReplication(Instance instance, int socketSeconds, String applicationName) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", InstanceConfig.SUPERUSER);
        props.setProperty("password", instances.superuserPassword(instance));
        props.setProperty("connectTimeout", "10");
        props.setProperty("loginTimeout", "10");
        props.setProperty("socketTimeout", Integer.toString(socketSeconds));
        props.setProperty("ApplicationName", applicationName);
        props.setProperty("replication", "true");
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("assumeMinServerVersion", "10");
        return new ReplicationSession(connect(instance, "postgres", props, pinnedOptions(instance.major())));
    }

    private Connection connect(Instance instance, String database, int connectSeconds, int socketSeconds) throws SQLException {
        String password = instances.superuserPassword(instance);
        lastRead.put(instance.id(), password);
        return connect(instance, database, password, connectSeconds, socketSeconds);
    }

    private Connection connect(Instance instance, String database, String password, int connectSeconds, int socketSeconds)
            throws SQLException {
        return connect(instance.host(), instance.port(), database, superuser(password, connectSeconds, socketSeconds),
                pinnedOptions(instance.major()), authority.certificateFile());
    }

    private static Properties superuser(String password, int connectSeconds, int socketSeconds) {
        return superuser(password, connectSeconds, socketSeconds, "keel");
    }

    private static Properties superuser(String password, int connectSeconds, int socketSeconds, String applicationName) {
        Properties props = new Properties();
        props.setProperty("user", InstanceConfig.SUPERUSER);
        props.setProperty("password", password);
        props.setProperty("connectTimeout", Integer.toString(connectSeconds));
        props.setProperty("loginTimeout", Integer.toString(connectSeconds));
        props.setProperty("socketTimeout", Integer.toString(socketSeconds));
        props.setProperty("ApplicationName", applicationName);
        return props;
    }

    /**
     * A superuser health-check session on a server known only by where it listens, its major and
     * Keel's password on it, over the same verified TLS against {@code certificate} (Keel's CA):
     * for the fence guard, a process that has no catalog and no CA bean, which names its sessions
     * {@code applicationName}.
     */
    public static ServerSession probe(String host, int port, int major, String password, Path certificate, int timeoutSeconds,
                                      String applicationName) throws SQLException {
        return new ServerSession(connect(host, port, "postgres", superuser(password, timeoutSeconds, timeoutSeconds, applicationName),
                pinnedOptions(major), certificate));
    }

    /**
     * A new connection to {@code database} on {@code instance} as {@code user}, a role other than
     * keel (a database's dataclip role), over the same verified TLS, with {@code search_path}
     * pinned to {@code pg_catalog, pg_temp} and {@code bytea_output} to {@code hex} in the startup
     * packet, so no setting of the tenant's (ALTER DATABASE/ROLE ... SET) changes how its names
     * resolve or how its bytes read. Only those (and {@code role=none}): the
     * role's own read-only and timeout settings stay in force. {@code driver} adds pgjdbc
     * settings (timeouts, query mode, application name); it cannot change the user, TLS or options.
     * The caller closes the connection.
     */
    public Connection openAs(Instance instance, String database, String user, String password, Properties driver) throws SQLException {
        Properties props = new Properties();
        props.putAll(driver);
        props.setProperty("user", user);
        props.setProperty("password", password);
        return connect(instance, database, props, PINNED_CLIP_OPTIONS);
    }

    /**
     * Whether the server's port accepts a TCP connection within {@code timeout}: false when its host
     * does not answer in time (down, or cut off) or refuses (nothing listens).
     */
    public boolean acceptsConnections(Instance instance, Duration timeout) {
        return PortRange.accepting(instance.host(), instance.port(), timeout);
    }

    private Connection connect(Instance instance, String database, Properties props, String options) throws SQLException {
        return connect(instance.host(), instance.port(), database, props, options, authority.certificateFile());
    }

    /** A connection with Keel's verified TLS, {@code options} in the startup packet, and the rest of {@code props}. */
    private static Connection connect(String host, int port, String database, Properties props, String options, Path certificate)
            throws SQLException {
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", certificate.toString());
        props.setProperty("options", options);
        String address = host.contains(":") ? "[" + host + "]" : host;
        return DriverManager.getConnection("jdbc:postgresql://" + address + ":" + port + "/" + database, props);
    }

    /** Keel's password on {@code instance} as last read from the catalog, if it was: nothing is read now. */
    public Optional<String> knownPassword(Instance instance) {
        return Optional.ofNullable(lastRead.get(instance.id()));
    }
}
