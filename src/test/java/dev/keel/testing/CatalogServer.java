package dev.keel.testing;

import dev.keel.KeelHome;
import dev.keel.artifacts.MavenArtifacts;
import dev.keel.postgres.Installation;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.PostgresConfig;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A plain Postgres server on a {@link Hosts.Host}, listening on that host's address only, as an
 * operator's external catalog would be: a superuser {@code keel} with a password, a database
 * {@code keel}, password logins from the harness's subnet. It runs the binaries Keel itself uses
 * (the default major, unpacked into the tests' shared install directory) as user {@code nobody},
 * in the foreground of its host, so that {@link Hosts.Host#killAll()} takes it down with the host.
 */
public final class CatalogServer implements AutoCloseable {
    private static final int PORT = 5432;
    private static final String USER = "keel";
    private static final String DATABASE = "keel";
    private static final int NOBODY = 65534;

    private final Hosts.Host host;
    private final String password;
    private final Process postmaster;

    private CatalogServer(Hosts.Host host, String password, Process postmaster) {
        this.host = host;
        this.password = password;
        this.postmaster = postmaster;
    }

    /** Initialises a cluster under {@code dir} (made fresh), starts it on {@code host} and waits until it serves. */
    public static CatalogServer start(Hosts.Host host, Path dir, String subnet) {
        Installation installation = defaultInstallation();
        String password = UUID.randomUUID().toString().replace("-", "");
        Path data = dir.resolve("data");
        try {
            ownByNobody(dir);
            Path pwfile = dir.resolve("pwfile");
            Files.writeString(pwfile, password + "\n");
            ownByNobody(pwfile);
            run(List.of(installation.initdb(), "-D", data.toString(), "-U", USER, "--pwfile=" + pwfile, "--auth=scram-sha-256",
                    "--encoding=UTF8", "--locale=C", "--no-instructions"), dir.resolve("initdb.log"));
            Files.delete(pwfile);
            Files.writeString(data.resolve("pg_hba.conf"), "host all " + USER + " " + subnet + " scram-sha-256\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Process postmaster;
        try {
            postmaster = host.exec(asNobody(List.of(installation.bin("postgres").toString(), "-D", data.toString(),
                            "-c", "listen_addresses=" + host.address(), "-c", "port=" + PORT, "-c", "unix_socket_directories=",
                            "-c", "max_connections=100")).toArray(String[]::new))
                    .redirectErrorStream(true).redirectOutput(dir.resolve("postgresql.log").toFile()).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        CatalogServer server = new CatalogServer(host, password, postmaster);
        Wait.until("the catalog server on " + host + " to accept connections (log: " + dir.resolve("postgresql.log") + ")",
                Timeouts.SERVER_START, () -> {
                    if (!postmaster.isAlive()) {
                        throw new AssertionError("the catalog server exited with " + postmaster.exitValue());
                    }
                    try (Connection connection = DriverManager.getConnection(server.jdbcUrl("postgres"), USER, password)) {
                        return true;
                    } catch (SQLException e) {
                        return false;
                    }
                });
        try (Connection connection = DriverManager.getConnection(server.jdbcUrl("postgres"), USER, password);
             var statement = connection.createStatement()) {
            statement.execute("create database " + DATABASE);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return server;
    }

    /** {@code postgres://keel:<password>@<host address>:5432/keel}, as KEEL_CATALOG_URL. */
    public String url() {
        return "postgres://" + USER + ":" + password + "@" + host.address() + ":" + PORT + "/" + DATABASE;
    }

    /** The catalog database over JDBC, for checks from the test JVM. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl(DATABASE), USER, password);
    }

    private String jdbcUrl(String database) {
        return "jdbc:postgresql://" + host.address() + ":" + PORT + "/" + database + "?connectTimeout=5";
    }

    /** Fast shutdown (SIGINT to the postmaster), waiting for it to exit. */
    @Override
    public void close() {
        if (!postmaster.isAlive()) {
            return;
        }
        try {
            new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid())).start().waitFor();
            if (!postmaster.waitFor(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS)) {
                postmaster.destroyForcibly();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The default major's binaries, as Keel's own configuration names them, unpacked once per build. */
    private static Installation defaultInstallation() {
        try (ApplicationContext context = ApplicationContext.builder().deduceEnvironment(false).build()) {
            Environment environment = context.getEnvironment();
            environment.start();
            int major = environment.getRequiredProperty("keel.postgres.default-major", Integer.class);
            PostgresConfig config = new PostgresConfig();
            config.setDefaultMajor(major);
            config.setVersions(Map.of(Integer.toString(major), environment.getRequiredProperty("keel.postgres.versions." + major, String.class)));
            config.setInstallDir(TestKeel.sharedInstallDir().toString());
            String home = TestKeel.workDir().toString();
            return new PostgresBinaries(config, new KeelHome(home, home), new MavenArtifacts(
                    environment.getRequiredProperty("keel.maven.repository", String.class),
                    environment.getRequiredProperty("keel.maven.local-repository", String.class))).installation(major);
        }
    }

    private static List<String> asNobody(List<String> command) {
        List<String> full = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "--"));
        full.addAll(command);
        return full;
    }

    private static void run(List<String> command, Path log) {
        try {
            Process process = new ProcessBuilder(asNobody(command)).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!process.waitFor(Timeouts.SERVER_START.toSeconds(), TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IllegalStateException(command.get(0) + " failed: " + Files.readString(log));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void ownByNobody(Path path) throws IOException {
        Files.setAttribute(path, "unix:uid", NOBODY, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", NOBODY, LinkOption.NOFOLLOW_LINKS);
    }
}
