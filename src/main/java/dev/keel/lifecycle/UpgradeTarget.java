package dev.keel.lifecycle;

import dev.keel.Network;
import dev.keel.archive.ArchiveRetirement;
import dev.keel.databases.Database;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.ClientProcess;
import dev.keel.postgres.ClientTools;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerUser;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import jakarta.inject.Singleton;
import org.jooq.Record;

import java.io.InputStream;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The new server of an upgrade: made on the target major (role {@code upgrade}, so nothing
 * points at it yet) without archiving, moved to a timeline above every one the database's archive
 * holds, then archiving; then given the old server's roles (with their SCRAM verifiers, so every
 * credential's password works), memberships and settings, the database with its owner and grants,
 * and its schema ({@code pg_dump --schema-only | psql}, as pg_upgrade copies schemas).
 */
@Singleton
final class UpgradeTarget {
    private static final Duration SCHEMA_TIMEOUT = Duration.ofHours(1);

    private final PostgresBinaries binaries;
    private final InstanceMaker maker;
    private final InstanceRuntime runtime;
    private final Reconfiguration reconfiguration;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ArchiveRetirement archive;
    private final ServerSettings serverSettings;
    private final Network network;
    private final ClientTools tools;
    private final ServerUser user;
    private final CertificateAuthority authority;

    UpgradeTarget(PostgresBinaries binaries, InstanceMaker maker, InstanceRuntime runtime, Reconfiguration reconfiguration,
                  InstanceRepository instances, InstanceConnections connections, ArchiveRetirement archive, ServerSettings serverSettings,
                  Network network, ClientTools tools, ServerAccounts accounts, CertificateAuthority authority) {
        this.binaries = binaries;
        this.maker = maker;
        this.runtime = runtime;
        this.reconfiguration = reconfiguration;
        this.instances = instances;
        this.connections = connections;
        this.archive = archive;
        this.serverSettings = serverSettings;
        this.network = network;
        this.tools = tools;
        this.user = accounts.tools();
        this.authority = authority;
    }

    /** The new server, running on its new timeline and archiving; returns it and the first timeline it is on. */
    record Made(Instance server, int timeline) {
    }

    Made make(Database database, Instance old, int toMajor) throws SQLException {
        binaries.installation(toMajor);
        // The plan's settings and those chosen with pg:settings, as every server of the database runs with.
        Map<String, String> quiet = new LinkedHashMap<>(serverSettings.of(database));
        quiet.put("archive_mode", "off");
        Instance server = maker.make(database.id(), InstanceRole.UPGRADE, toMajor, quiet, hba(database), step -> { });
        try {
            int after = archive.newestTimeline(database.id()).value();
            try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
                after = Math.max(after, UpgradeSql.timeline(connection));
            }
            runtime.startOnTimelineAfter(server, after);
            reconfiguration.restart(server, maker.settings(server, serverSettings.of(database)), hba(database));
            return new Made(server, after + 1);
        } catch (RuntimeException | SQLException e) {
            maker.discard(server);
            throw e;
        }
    }

    List<HbaRule> hba(Database database) {
        return InstanceConfig.hba(database.pgDatabase(), network.keelSources());
    }

    /** Roles, memberships, settings, the database and its grants, then the schema: everything but the rows. */
    void copyDefinitions(Database database, Instance old, Instance server) throws Exception {
        String db = database.pgDatabase();
        try (Connection from = connections.open(old, "postgres").pinnedConnection(); Connection to = connections.open(server, "postgres").pinnedConnection()) {
            List<Record> roles = UpgradeSql.roles(from);
            Set<String> copied = roles.stream().map(r -> r.get(0, String.class)).collect(Collectors.toSet());
            for (Record role : roles) {
                UpgradeSql.createRole(to, role);
            }
            for (Record membership : UpgradeSql.memberships(from, old.major())) {
                String role = membership.get(0, String.class);
                if (copied.contains(role) || role.startsWith("pg_")) {
                    UpgradeSql.grantMembership(to, membership);
                }
            }
            UpgradeSql.createDatabase(to, db, UpgradeSql.databaseOwner(from, db));
            for (Record grant : UpgradeSql.databaseGrants(from, db)) {
                String grantee = grant.get(0, String.class);
                if (grantee == null || copied.contains(grantee)) {
                    UpgradeSql.grantOnDatabase(to, db, grant.get(1, String.class), grantee);
                }
            }
            for (Record setting : UpgradeSql.settings(from, db)) {
                String role = setting.get(0, String.class);
                if (role == null || copied.contains(role)) {
                    UpgradeSql.applySetting(to, role, setting.get(1, String.class), UpgradeSql.forMajor(setting.get(2, String.class),
                            server.major()));
                }
            }
        }
        copySchema(database, old, server);
    }

    private void copySchema(Database database, Instance old, Instance server) throws Exception {
        ClientTools.Tool pgDump = tools.require("pg_dump", database.major());
        ClientTools.Tool psql = tools.require("psql", 1);
        List<String> dump = List.of(pgDump.path().toString(), "--schema-only", "--no-publications", "--no-subscriptions",
                "--exclude-schema=keel_pool", "--no-password");
        List<String> load = List.of(psql.path().toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password");
        try (ClientProcess from = ClientProcess.start(user, dump, superuser(old, database.pgDatabase()), ClientProcess.Stream.OUTPUT);
             ClientProcess to = ClientProcess.start(user, load, superuser(server, database.pgDatabase()), ClientProcess.Stream.INPUT)) {
            try (InputStream schema = from.output(); OutputStream in = to.input()) {
                schema.transferTo(in);
            }
            int dumped = from.waitFor(SCHEMA_TIMEOUT);
            int loaded = to.waitFor(SCHEMA_TIMEOUT);
            if (dumped != 0 || loaded != 0) {
                throw new KeelException(ProblemType.UNAVAILABLE, "Copying the schema to Postgres " + server.major() + " failed: "
                        + (dumped != 0 ? "pg_dump: " + from.errors() : "psql: " + to.errors()));
            }
        }
    }

    private ClientProcess.Target superuser(Instance server, String database) {
        return new ClientProcess.Target(server.host(), server.port(), InstanceConfig.SUPERUSER, instances.superuserPassword(server), database,
                // Keel's own pins, so that nothing the owner set on its database or role (a role, a timeout) reaches the copy.
                authority.sharedCertificateFile(), InstanceConnections.pinnedOptions(server.major()));
    }
}
