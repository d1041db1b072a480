package dev.keel.lifecycle;

import dev.keel.Network;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceState;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.Lsn;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.Record;

import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The switch, inside the write pause: the old server lets in only Keel and the upgrade's stream
 * and ends every client session; once the new server has applied the old one's WAL to its last
 * position, the sequences are set there, the subscription ends, and the catalog names the new
 * server the database's primary on its new major. The pause lasts from closing the old server to
 * that catalog change and is returned. Until the catalog change, a failure lets the old server
 * serve again as before.
 */
@Singleton
final class UpgradeSwitch {
    private static final Duration CATCH_UP = Duration.ofSeconds(30);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final Reconfiguration reconfiguration;
    private final InstanceMaker maker;
    private final DatabaseLookup databases;
    private final ServerSettings serverSettings;
    private final Network network;
    private final LogicalCopy logical;

    UpgradeSwitch(InstanceRepository instances, InstanceConnections connections, Reconfiguration reconfiguration, InstanceMaker maker,
                  DatabaseLookup databases, ServerSettings serverSettings, Network network, LogicalCopy logical) {
        this.instances = instances;
        this.connections = connections;
        this.reconfiguration = reconfiguration;
        this.maker = maker;
        this.databases = databases;
        this.serverSettings = serverSettings;
        this.network = network;
        this.logical = logical;
    }

    /** Switches the database to {@code server}; returns the write pause in milliseconds. */
    long switchOver(Database database, Instance old, Instance server) throws Exception {
        Map<String, String> settings = maker.settings(old, serverSettings.of(database));
        long start = System.nanoTime();
        boolean switched = false;
        try {
            reconfiguration.apply(old, settings, keelAndStreamOnly(database));
            try (Connection connection = connections.open(old, "postgres").pinnedConnection()) {
                UpgradeStreamSql.endClientSessions(connection);
            }
            Lsn last = logical.position(old);
            if (!logical.awaitApplied(database, old, last, CATCH_UP)) {
                throw new KeelException(ProblemType.UNAVAILABLE, "The new server did not apply the old one's last writes (to " + last
                        + ") within " + CATCH_UP.toSeconds() + " s; the old server serves again and nothing changed.");
            }
            copySequences(database, old, server);
            logical.detach(database, server);
            instances.makePrimary(server.id());
            databases.changeMajor(database.id(), server.major());
            switched = true;
            instances.transition(old.id(), InstanceState.DELETING);
            instances.transition(server.id(), InstanceState.RUNNING);
            return (System.nanoTime() - start) / 1_000_000;
        } catch (Exception e) {
            if (!switched) {
                reconfiguration.apply(old, settings, InstanceConfig.hba(database.pgDatabase(), network.keelSources()));
            }
            throw e;
        }
    }

    private void copySequences(Database database, Instance old, Instance server) throws Exception {
        try (Connection from = connections.open(old, database.pgDatabase()).pinnedConnection(); Connection to = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            for (Record sequence : UpgradeStreamSql.sequences(from)) {
                UpgradeStreamSql.setSequence(to, sequence.get(0, String.class), sequence.get(1, String.class), sequence.get(2, Long.class));
            }
        }
    }

    /** pg_hba of the old server during the pause: Keel, replication roles, and the upgrade's stream role to the database. */
    private List<HbaRule> keelAndStreamOnly(Database database) {
        String cidr = network.keelSources().get(0); // the upgrade's stream comes from this node
        List<HbaRule> rules = new ArrayList<>(InstanceConfig.hbaKeelOnly(network.keelSources()));
        rules.add(new HbaRule("hostssl", "replication", "all", cidr, "scram-sha-256"));
        rules.add(new HbaRule("hostssl", database.pgDatabase(), LogicalCopy.name(database.id()), cidr, "scram-sha-256"));
        return rules;
    }
}
