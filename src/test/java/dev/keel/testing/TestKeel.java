package dev.keel.testing;

import dev.keel.FileTrees;
import dev.keel.Keel;
import dev.keel.KeelHome;
import io.micronaut.context.ApplicationContext;
import io.micronaut.runtime.server.EmbeddedServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keel running inside the test JVM on its own data directory under {@code target/test-work},
 * with its embedded catalog, on a random API port and its own instance port range. Postgres
 * binaries are unpacked once per build into a directory every test Keel shares.
 */
public final class TestKeel implements AutoCloseable {
    private static final AtomicInteger COUNT = new AtomicInteger();
    // Below the ephemeral range (32768+), clear of Keel's defaults (24900-25999) and the benchmark's.
    // A second checkout's suite running at the same time on this machine sets keel.test.port-base apart.
    private static final int PORT_BASE = Integer.getInteger("keel.test.port-base", 26000);
    private static final int PORTS_EACH = 100;
    private static final int CATALOG_PORTS_EACH = 5;
    private static final int S3_PORTS_EACH = 5;
    private static final int POOLER_PORTS_EACH = 10;

    private final Path dataDir;
    private final Map<String, Object> properties;
    private ApplicationContext context;
    private Api api;

    private TestKeel(Path dataDir, Map<String, Object> properties) {
        this.dataDir = dataDir;
        this.properties = properties;
    }

    public static Path workDir() {
        return Path.of(System.getProperty("keel.test.work-dir", "target/test-work")).toAbsolutePath().normalize();
    }

    /** The install directory all test Keels share, so each Postgres major is unpacked once. */
    public static Path sharedInstallDir() {
        return workDir().resolve("postgres");
    }

    /**
     * Stops and removes the server directory an earlier checkout at this path left for data
     * directory {@code dataDir} (which went with that checkout, or with a run cut short): a new
     * Keel would rightly refuse to start over its catalog. For a data directory inside one
     * {@link #freshDataDir} made (a user's {@code var}), which that does not cover.
     */
    public static void removeLeftoverServers(Path dataDir) {
        Path leftover = KeelHome.defaultServerDir(dataDir);
        if (Files.isDirectory(leftover)) {
            Keel.stopServers(leftover);
            FileTrees.delete(leftover);
        }
    }

    /** A fresh data directory {@code name} (anything a previous run left there is stopped and removed). */
    public static Path freshDataDir(String name) {
        Path dir = workDir().resolve(name);
        if (Files.exists(dir)) {
            Keel.stopServers(dir);
            Path servers = KeelHome.serverDirOf(dir);
            if (!servers.equals(dir)) {
                FileTrees.delete(servers);
            }
            FileTrees.delete(dir);
        }
        removeLeftoverServers(dir);
        try {
            Files.createDirectories(dir);
            // Postgres runs as an unprivileged user when tests run as root: it must be able to search the path.
            Files.setPosixFilePermissions(workDir(), java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** Ports for one test Keel that no other test Keel in this JVM uses: its catalog's, its embedded S3's, its instances', its poolers'. */
    public record Ports(String catalog, String s3, String instances, String poolers) {
    }

    public static Ports nextPorts() {
        int k = COUNT.getAndIncrement();
        int first = PORT_BASE + k * PORTS_EACH;
        if (first + PORTS_EACH > 32768) {
            throw new IllegalStateException("too many test Keels for the port space below 32768");
        }
        int s3 = first + CATALOG_PORTS_EACH;
        int poolers = s3 + S3_PORTS_EACH;
        int instances = poolers + POOLER_PORTS_EACH;
        return new Ports(first + "-" + (s3 - 1), s3 + "-" + (poolers - 1), instances + "-" + (first + PORTS_EACH - 1),
                poolers + "-" + (instances - 1));
    }

    public static TestKeel start(String name) {
        return start(name, Map.of());
    }

    public static TestKeel start(String name, Map<String, Object> extra) {
        return start(freshDataDir(name), extra);
    }

    /** As above, on a data directory made with {@link #freshDataDir} that the caller filled first (a second node's keys). */
    public static TestKeel start(Path dataDir, Map<String, Object> extra) {
        Map<String, Object> properties = new HashMap<>();
        properties.put("keel.data-dir", dataDir.toString());
        properties.put("micronaut.server.port", -1);
        properties.put("keel.postgres.install-dir", sharedInstallDir().toString());
        Ports ports = nextPorts();
        properties.put("keel.instances.ports", ports.instances());
        properties.put("keel.catalog.ports", ports.catalog());
        properties.put("keel.s3.embedded-ports", ports.s3());
        properties.put("keel.s3.embedded-jvm-options", S3ProxyJvm.optionsLine());
        properties.put("keel.pooling.ports", ports.poolers());
        properties.put("keel.backups.download-port", 0);
        properties.putAll(extra);
        TestKeel keel = new TestKeel(dataDir, properties);
        try {
            keel.startControlPlane();
        } catch (RuntimeException e) {
            Keel.stopServers(dataDir); // the catalog may have started before the failure
            throw e;
        }
        return keel;
    }

    /** Starts the control plane on this data directory (after {@link #stopControlPlane}). */
    public void startControlPlane() {
        startControlPlane(Map.of());
    }

    /** Starts the control plane with some properties changed, as an operator editing the environment would. */
    public void startControlPlane(Map<String, Object> overrides) {
        Map<String, Object> all = new HashMap<>(properties);
        all.putAll(overrides);
        ApplicationContext starting = ApplicationContext.builder().properties(all).deduceEnvironment(false).banner(false).build();
        try {
            starting.start();
        } catch (RuntimeException e) {
            // A half-started context may hold the catalog's node lock and a connection pool.
            starting.close();
            throw e;
        }
        context = starting;
        EmbeddedServer server = context.getBean(EmbeddedServer.class).start();
        String key;
        try {
            key = Files.readString(dataDir.resolve("admin-api-key")).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // Beyond loopback, the API speaks HTTPS with a certificate of the installation's CA, for the bind address.
        String bind = String.valueOf(all.getOrDefault("keel.bind", "127.0.0.1"));
        api = server.getScheme().equals("https") ? Api.trusting("https://" + bind + ":" + server.getPort(), key, dataDir.resolve("ca.pem"))
                : new Api("http://127.0.0.1:" + server.getPort(), key);
    }

    /** Stops the control plane only, as an operator stopping Keel would; Postgres servers keep running. */
    public void stopControlPlane() {
        context.close();
    }

    /** The API as the installation's admin. */
    public Api api() {
        return api;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Where this Keel's instances live (the data directory itself unless Keel runs as root). */
    public Path serverDir() {
        return KeelHome.serverDirOf(dataDir);
    }

    /** The data directory of an instance's server. */
    public Path instanceDataDir(java.util.UUID instance) {
        return serverDir().resolve("instances").resolve(instance.toString()).resolve("data");
    }

    /** The CA certificate, fetched as a client would from GET /v1/ca.pem. */
    public synchronized Path caFile() {
        Path file = dataDir.resolve("client-ca.pem");
        if (!Files.exists(file)) {
            Api.Response ca = api.get("/v1/ca.pem");
            try {
                // Whole or not at all: a client in another thread that finds it must never read it half written (an empty
                // trust store: "the trustAnchors parameter must be non-empty", seen in StreamingArchiveTest's load).
                Path partial = dataDir.resolve("client-ca.pem.partial");
                Files.writeString(partial, ca.text());
                Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return file;
    }

    public <T> T bean(Class<T> type) {
        return context.getBean(type);
    }

    /** A new team and an API client with its key. */
    public Api newTeam(String name) {
        Api.Response created = api.post("/v1/teams", "{\"name\":\"" + name + "\"}");
        if (created.status() != 201) {
            throw new AssertionError("creating team " + name + " answered " + created);
        }
        return api.withKey(created.json().get("api_key").get("key").asText());
    }

    /** An empty database made on this Keel's embedded catalog server: any reachable Postgres does as an external catalog. */
    public record CatalogServerDatabase(String name, String url, String jdbcUrl, String user, String password) {
    }

    public CatalogServerDatabase newDatabaseOnCatalogServer(String prefix) {
        try {
            java.util.Properties catalog = new java.util.Properties();
            catalog.load(new java.io.StringReader(Files.readString(dataDir.resolve("catalog.properties"))));
            String server = "127.0.0.1:" + catalog.getProperty("port");
            String password = catalog.getProperty("password");
            String name = prefix + "_" + System.nanoTime();
            try (var connection = java.sql.DriverManager.getConnection("jdbc:postgresql://" + server + "/postgres", "keel", password);
                 var statement = connection.createStatement()) {
                statement.execute("create database " + name);
            }
            return new CatalogServerDatabase(name, "postgres://keel:" + password + "@" + server + "/" + name,
                    "jdbc:postgresql://" + server + "/" + name, "keel", password);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops the control plane and every Postgres server under the data directory. */
    @Override
    public void close() {
        if (context != null && context.isRunning()) {
            context.close();
        }
        Keel.stopServers(dataDir);
        stopFenceGuard(dataDir);
    }

    /**
     * Ends the fence guard a Keel on {@code dataDir} started, if it runs: a test's servers are gone,
     * and it would otherwise linger on the machine the suite shares for half a minute more.
     */
    public static void stopFenceGuard(Path dataDir) {
        try {
            long pid = Long.parseLong(Files.readString(dataDir.resolve("fence-guard").resolve("guard.pid")).strip());
            // Its command line as /proc holds it: ProcessHandle.Info reads only its first 4 kB, which a test class path (the
            // guard runs Keel's) fills before the guard's class name.
            String command = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), java.nio.charset.StandardCharsets.UTF_8);
            if (command.contains("dev.keel.replication.FenceGuard")) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
        } catch (IOException | NumberFormatException e) {
            // None was started.
        }
    }
}
