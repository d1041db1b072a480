package dev.keel.pooling;

import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.Network;
import dev.keel.RandomStrings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.ThisNode;
import dev.keel.operations.HostedWork;
import dev.keel.postgres.PortRange;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerUser;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import dev.keel.tls.ServerCertificate;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Connection pooling ({@code pg:connection-pooling:attach}): one PgBouncer per database, made on
 * the first pooled attachment and stopped when the last one goes. It runs on the node that hosts
 * the database's primary, so that its URL is the primary's host with the pooler's port.
 * {@link #reconcile} makes a pooler match its database as it is now (its primary, its plan's
 * connections, the auth objects on the primary); the {@link PoolerWatch} of the primary's node
 * calls it every second, so a pooler follows a failover, a switchover (to another node too: it
 * moves there, and the node it left stops its PgBouncer), an upgrade or a plan change, and is
 * started again should it die. The catalog's row is the truth: a node stops a PgBouncer it runs
 * whose row is gone, whoever removed it.
 */
@Singleton
public final class Poolers {
    private static final Logger LOG = LoggerFactory.getLogger(Poolers.class);
    private static final int PASSWORD_LENGTH = 48;
    private static final List<String> BINARY_DIRS = List.of("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin");

    private final PoolerRepository repository;
    private final Plans plans;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Network network;
    private final ServerUser user;
    private final CertificateAuthority authority;
    private final Path root;
    private final PortRange ports;
    private final String configuredBinary;
    private final Map<UUID, Object> locks = new ConcurrentHashMap<>();
    /** Primaries whose auth role and lookup function this Keel has made sure of, with the password it set. */
    private final Map<UUID, String> authEnsured = new ConcurrentHashMap<>();
    private final HostedWork hostedWork;
    private final String node;

    Poolers(PoolerRepository repository, Plans plans, InstanceRepository instances, InstanceConnections connections, Network network,
            ServerAccounts accounts, CertificateAuthority authority, KeelHome home, @Value("${keel.pooling.ports}") String ports,
            @Value("${keel.pooling.pgbouncer:}") String configuredBinary, HostedWork hostedWork, ThisNode node) {
        this.hostedWork = hostedWork;
        this.node = node.name();
        this.repository = repository;
        this.plans = plans;
        this.instances = instances;
        this.connections = connections;
        this.network = network;
        this.user = accounts.tools();
        this.authority = authority;
        this.root = home.serverDir().resolve("poolers");
        this.ports = PortRange.parse(ports);
        this.configuredBinary = configuredBinary.strip();
    }

    /**
     * The database's pooler, made and started if it has none: 422 on an essential plan (as on
     * Heroku) and for a follower, 409 unless the database is available. One for a database whose
     * primary another node hosts is recorded here and started by that node's watch, which this
     * waits for (503 when that node cannot take it, or has not started it in time).
     */
    public Pooler ensure(Database database) throws SQLException, InterruptedException {
        Plan plan = plans.require(database.plan());
        if ("essential".equals(plan.tier())) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Connection pooling is not available on essential plans; change "
                    + database.name() + " to a standard or premium plan first.");
        }
        if (database.following()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, database.name() + " is a follower; attach a pool to its leader.");
        }
        if (database.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, "Database " + database.name() + " is " + database.state().value()
                    + "; connection pooling needs it available.");
        }
        Instance primary = instances.primary(database.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "Database " + database.name() + " has no primary now (a failover is under way); try again in a few seconds."));
        Optional<String> host = hostedWork.otherHost(primary);
        if (host.isPresent()) {
            hostedWork.requireTaker(host.get(), "Starting " + database.name() + "'s connection pooler");
            if (repository.find(database.id()).isEmpty()) {
                repository.create(database.id(), primary.host(), ports, null, RandomStrings.alphanumeric(PASSWORD_LENGTH),
                        RandomStrings.alphanumeric(PASSWORD_LENGTH));
            }
            return awaitListening(database, host.get());
        }
        String binary = binary();
        synchronized (lock(database.id())) {
            Pooler pooler = repository.find(database.id()).orElseGet(() -> repository.create(database.id(), network.localHost(), ports,
                    network.bind(), RandomStrings.alphanumeric(PASSWORD_LENGTH), RandomStrings.alphanumeric(PASSWORD_LENGTH)));
            reconcile(database, pooler, binary);
            return pooler;
        }
    }

    /**
     * Returns the pooler another node hosts once it takes connections (that node may have moved it to
     * a port of its own range meanwhile); a 503 after {@value HostedWork#PATIENCE_SECONDS} s.
     */
    private Pooler awaitListening(Database database, String host) throws InterruptedException {
        long deadline = System.nanoTime() + HostedWork.PATIENCE_SECONDS * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            Optional<Pooler> pooler = repository.find(database.id());
            if (pooler.isEmpty()) {
                break; // detached meanwhile
            }
            if (PortRange.accepting(pooler.get().host(), pooler.get().port(), Duration.ofSeconds(1))) {
                return pooler.get();
            }
            Thread.sleep(200);
        }
        throw new KeelException(ProblemType.UNAVAILABLE, database.name() + "'s connection pooler is recorded, and node " + host + ", which"
                + " hosts the database's server, has not started it within " + HostedWork.PATIENCE_SECONDS + " s; it does once it"
                + " can. Its URL is already in the app's config vars.");
    }

    public Optional<Pooler> find(UUID databaseId) {
        return repository.find(databaseId);
    }

    /** After a pooled attachment of the database went: with {@code pooledLeft} none, its pooler is stopped and removed. */
    public void release(UUID databaseId, int pooledLeft) {
        if (pooledLeft == 0) {
            remove(databaseId);
        }
    }

    /** Stops and removes the database's pooler (its process, its directory, its row); nothing if it has none. */
    void remove(UUID databaseId) {
        synchronized (lock(databaseId)) {
            Path dir = root.resolve(databaseId.toString());
            PgBouncerProcess.stop(dir);
            FileTrees.delete(dir);
            repository.delete(databaseId);
            LOG.info("Stopped the pooler of database {}: no pooled attachment is left", databaseId);
        }
    }

    List<Pooler> all() {
        return repository.all();
    }

    /**
     * Stops and removes each PgBouncer this node runs that is not its to run any more: its row is
     * gone (its last pooled attachment detached, or its database deleted, through another node), or
     * its database's primary is on another node now (which starts one of its own). Nothing while
     * the database has no primary (mid-failover).
     */
    void sweep() {
        if (!Files.isDirectory(root)) {
            return;
        }
        List<Path> dirs;
        try (Stream<Path> listed = Files.list(root)) {
            dirs = listed.filter(Files::isDirectory).toList();
        } catch (IOException e) {
            LOG.warn("Could not list the poolers under {}", root, e);
            return;
        }
        for (Path dir : dirs) {
            UUID databaseId;
            try {
                databaseId = UUID.fromString(dir.getFileName().toString());
            } catch (IllegalArgumentException e) {
                continue;
            }
            synchronized (lock(databaseId)) {
                boolean recorded = repository.find(databaseId).isPresent();
                Optional<String> moved = instances.primary(databaseId).map(Instance::node).filter(n -> !n.equals(node));
                if (!recorded || moved.isPresent()) {
                    PgBouncerProcess.stop(dir);
                    FileTrees.delete(dir);
                    LOG.info("Stopped the pooler of database {} on this node: {}", databaseId, recorded
                            ? "its primary is on node " + moved.get() + " now, which runs it" : "it was removed through another node");
                }
            }
        }
    }

    /** Makes the pooler match the database now; says whether anything changed. Nothing while it has no primary (mid-failover). */
    boolean reconcile(Database database, Pooler pooler) throws SQLException, InterruptedException {
        synchronized (lock(database.id())) {
            return repository.find(database.id()).isPresent() && reconcile(database, pooler, binary());
        }
    }

    private boolean reconcile(Database database, Pooler pooler, String binary) throws SQLException, InterruptedException {
        Optional<Instance> primary = instances.primary(database.id());
        if (primary.isEmpty()) {
            return false;
        }
        Instance server = primary.get();
        PgBouncerProcess process = process(pooler);
        // The primary moved here from another node (a failover), or another node recorded the pooler with a port from its own
        // range: the pooler takes a port that is free here.
        boolean portHere = ports.contains(pooler.port()) && (process.isRunning() || PortRange.bindable(network.bind(), pooler.port()));
        if (!pooler.host().equals(server.host()) || !portHere) {
            pooler = repository.move(database.id(), server.host(), ports, network.bind());
            process = process(pooler);
            LOG.info("Pooler of {} on this node, with its primary, at port {}", database.name(), pooler.port());
        }
        process.prepare();
        if (!process.exists("server.crt")) {
            ServerCertificate certificate = authority.issueServerCertificate(List.of(network.publicHost(), network.localHost(), "localhost"));
            process.write("server.key", certificate.privateKeyPem());
            process.write("ca.crt", authority.certificatePem());
            process.write("server.crt", certificate.certificatePem());
        }
        String authPassword = repository.authPassword(pooler);
        if (!authPassword.equals(authEnsured.get(server.id()))) {
            ensureAuth(database, server, authPassword);
            authEnsured.put(server.id(), authPassword);
        }
        String userlist = PgBouncerConfig.userlist(authPassword, repository.adminPassword(pooler));
        String ini = new PgBouncerConfig(database.pgDatabase(), server.host(), server.port(), network.bind(), pooler.port(),
                PgBouncerConfig.poolSize(plans.require(database.plan()).connections()), root.resolve(database.id().toString())).ini();
        boolean changed = false;
        if (!process.holds("userlist.txt", userlist)) {
            process.write("userlist.txt", userlist);
            changed = true;
        }
        if (!process.holds("pgbouncer.ini", ini)) {
            process.write("pgbouncer.ini", ini);
            changed = true;
        }
        if (!process.isRunning()) {
            process.start(binary);
            LOG.info("Pooler of {} started on port {}, in front of instance {} on port {}", database.name(), pooler.port(), server.id(),
                    server.port());
            return true;
        }
        if (changed) {
            process.reload();
            LOG.info("Pooler of {} reloaded: now in front of instance {} on port {}", database.name(), server.id(), server.port());
        }
        return changed;
    }

    private void ensureAuth(Database database, Instance primary, String password) throws SQLException {
        try (Connection connection = connections.open(primary, "postgres").pinnedConnection()) {
            PoolerSql.ensureRole(connection, password);
        }
        try (Connection connection = connections.open(primary, database.pgDatabase()).pinnedConnection()) {
            PoolerSql.ensureLookup(connection, database.pgDatabase());
        }
    }

    PgBouncerProcess process(Pooler pooler) {
        return new PgBouncerProcess(root.resolve(pooler.databaseId().toString()), user);
    }

    /** The pgbouncer program: {@code KEEL_POOLING_PGBOUNCER}, else found where Debian and others install it; 503 when missing. */
    String binary() {
        if (!configuredBinary.isEmpty()) {
            return configuredBinary;
        }
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(BINARY_DIRS);
        return dirs.stream().filter(d -> !d.isBlank()).map(d -> Path.of(d, "pgbouncer")).filter(Files::isExecutable).findFirst()
                .map(Path::toString).orElseThrow(() -> new KeelException(ProblemType.UNAVAILABLE, "PgBouncer is not installed on this"
                        + " Keel node: install it (apt-get install pgbouncer) or set KEEL_POOLING_PGBOUNCER to its path."));
    }

    private Object lock(UUID databaseId) {
        return locks.computeIfAbsent(databaseId, id -> new Object());
    }

    /** Stops every pooler under a data directory ({@code keel stop}); they outlive Keel otherwise. */
    public static void stopAll(Path dataDir) {
        PgBouncerProcess.stopAll(KeelHome.serverDirOf(dataDir).resolve("poolers"));
    }
}
