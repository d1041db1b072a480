package dev.keel.catalog;

import dev.keel.FileTrees;
import dev.keel.KeelHome;
import dev.keel.PrivateFiles;
import dev.keel.RandomStrings;
import dev.keel.StartupException;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.Installation;
import dev.keel.postgres.PortRange;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerCommands;
import dev.keel.postgres.ServerFiles;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The catalog cluster Keel runs for itself when no {@code KEEL_CATALOG_URL} is given: initialised
 * once under {@code <data dir>/catalog}, listening on loopback only, started detached like any
 * instance and reused by the next start. Its connection details sit in
 * {@code <data dir>/catalog.properties} (0600), written before initdb with
 * {@code state=initialising} and marked {@code ready} after: only a cluster that never finished
 * is ever removed and made again. A cluster whose properties are lost stops Keel instead.
 */
@Singleton
public final class EmbeddedCatalog {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedCatalog.class);
    private static final String SUPERUSER = "keel";
    private static final String DATABASE = "keel";
    private static final String LOOPBACK = "127.0.0.1";
    private static final String INITIALISING = "initialising";
    private static final String READY = "ready";

    private final Path dir;
    private final Path dataDir;
    private final Path propertiesFile;
    private final PostgresBinaries binaries;
    private final ServerCommands commands;
    private final ServerAccounts accounts;
    private final PortRange ports;

    EmbeddedCatalog(KeelHome home, PostgresBinaries binaries, ServerCommands commands, ServerAccounts accounts,
                    @Value("${keel.catalog.ports}") String ports) {
        this.accounts = accounts;
        this.ports = PortRange.parse(ports);
        this.dir = home.serverDir().resolve("catalog");
        this.dataDir = dir.resolve("data");
        this.propertiesFile = home.resolve("catalog.properties");
        this.binaries = binaries;
        this.commands = commands;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Initialises the cluster if needed, starts it if it is not running, and says how to reach it. */
    public synchronized CatalogLocation ensureRunning() {
        Properties props = readProperties();
        if (props == null && Files.exists(dataDir.resolve("PG_VERSION"))) {
            throw new StartupException("the embedded catalog under " + dataDir + " exists but " + propertiesFile
                    + ", which holds its port and password, is missing or incomplete; restore that file (it is part of the"
                    + " data directory's backup). Keel will not initialise a new catalog over an existing one.");
        }
        if (props == null || !READY.equals(props.getProperty("state"))) {
            props = initialise();
        } else if (!Files.exists(dataDir.resolve("PG_VERSION"))) {
            throw new StartupException("the embedded catalog's data under " + dataDir + " is missing although " + propertiesFile
                    + " says it was made; restore the catalog directory from backup.");
        }
        int major = Integer.parseInt(props.getProperty("major"));
        int port = Integer.parseInt(props.getProperty("port"));
        String password = props.getProperty("password");
        Installation installation = binaries.installation(major);
        if (!Postmaster.isRunning(dataDir)) {
            if (!PortRange.bindable(LOOPBACK, port)) {
                port = freePort();
                LOG.info("Catalog port taken by another process; moving the catalog to port {}", port);
                writeServerFiles(port);
                props.setProperty("port", Integer.toString(port));
                writeProperties(props);
            }
            commands.start(accounts.catalog(), installation, dataDir, dir.resolve("postgresql.log"));
        }
        String url = "jdbc:postgresql://" + LOOPBACK + ":" + port + "/";
        ensureDatabase(url, password);
        return new CatalogLocation(url + DATABASE, SUPERUSER, password,
                "embedded Postgres " + binaries.describe(major) + " on " + LOOPBACK + ":" + port + " (" + dataDir + ")", true);
    }

    /** Makes the cluster; anything under the catalog directory is what an unfinished initialisation left. */
    private Properties initialise() {
        LOG.info("Initialising the embedded catalog under {}", dir);
        Postmaster.stop(dataDir, Duration.ofSeconds(30));
        FileTrees.delete(dir);
        Properties props = new Properties();
        props.setProperty("major", Integer.toString(binaries.defaultMajor()));
        props.setProperty("port", Integer.toString(freePort()));
        props.setProperty("password", RandomStrings.alphanumeric(32));
        props.setProperty("state", INITIALISING);
        writeProperties(props);
        accounts.catalog().createPrivateDirectory(dir);
        accounts.catalog().checkReachable(dir);
        commands.initdb(accounts.catalog(), binaries.installation(binaries.defaultMajor()), dataDir, SUPERUSER, props.getProperty("password"));
        writeServerFiles(Integer.parseInt(props.getProperty("port")));
        props.setProperty("state", READY);
        writeProperties(props);
        return props;
    }

    private void writeServerFiles(int port) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listen_addresses", LOOPBACK);
        settings.put("port", Integer.toString(port));
        settings.put("unix_socket_directories", "");
        settings.put("max_connections", "100");
        ServerFiles.writeSettings(dataDir, settings, accounts.catalog());
        ServerFiles.writeHba(dataDir, List.of(HbaRule.host("all", SUPERUSER, LOOPBACK + "/32", "scram-sha-256")),
                accounts.catalog());
    }

    private void ensureDatabase(String serverUrl, String password) {
        try (Connection connection = DriverManager.getConnection(serverUrl + "postgres", SUPERUSER, password);
             var check = connection.prepareStatement("select 1 from pg_database where datname = ?")) {
            check.setString(1, DATABASE);
            if (!check.executeQuery().next()) {
                try (var create = connection.createStatement()) {
                    create.execute("create database " + DATABASE);
                }
            }
        } catch (SQLException e) {
            throw new StartupException("the embedded catalog under " + dataDir + " is not answering (" + e.getMessage()
                    + "); see " + dir.resolve("postgresql.log"), e);
        }
    }

    private Properties readProperties() {
        if (!Files.isRegularFile(propertiesFile)) {
            return null;
        }
        try {
            Properties props = new Properties();
            props.load(new StringReader(Files.readString(propertiesFile)));
            return props.containsKey("major") && props.containsKey("port") && props.containsKey("password") && props.containsKey("state")
                    ? props : null;
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + propertiesFile, e);
        }
    }

    private void writeProperties(Properties props) {
        StringWriter text = new StringWriter();
        try {
            props.store(text, "Keel's embedded catalog; keep private");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        PrivateFiles.write(propertiesFile, text.toString());
    }

    private int freePort() {
        return ports.firstFree(Set.of(), p -> PortRange.bindable(LOOPBACK, p))
                .orElseThrow(() -> new StartupException("no free port for the embedded catalog in " + ports
                        + "; set KEEL_CATALOG_PORTS to a range with a free port"));
    }
}
