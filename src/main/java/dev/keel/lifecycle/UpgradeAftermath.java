package dev.keel.lifecycle;

import dev.keel.archive.ArchiveRetirement;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BaseBackups;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.RetiredServers;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.ReplicationSlots;
import dev.keel.operations.Operation;
import dev.keel.postgres.TimelineId;
import dev.keel.replication.FollowerRebuilds;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * After the switch: the old server (and the HA standby, a copy of it) removed, the archive
 * started anew on the new server's timeline with a first base backup, and a rebuild asked for each
 * follower ({@link FollowerRebuilds}): the node that hosts it makes it anew on the new major from
 * that backup, streaming from the new primary. Every step may run again, so an upgrade Keel
 * stopped during after the switch is finished from here. The HA monitor builds the new standby
 * from the first backup.
 */
@Singleton
final class UpgradeAftermath {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeAftermath.class);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ReplicationSlots slots;
    private final ArchiveRetirement archive;
    private final BaseBackups backups;
    private final DatabaseLookup databases;
    private final RetiredServers retired;
    private final FollowerRebuilds rebuilds;

    UpgradeAftermath(InstanceRepository instances, InstanceConnections connections, ReplicationSlots slots,
                     ArchiveRetirement archive, BaseBackups backups, DatabaseLookup databases, RetiredServers retired,
                     FollowerRebuilds rebuilds) {
        this.instances = instances;
        this.connections = connections;
        this.slots = slots;
        this.archive = archive;
        this.backups = backups;
        this.databases = databases;
        this.retired = retired;
        this.rebuilds = rebuilds;
    }

    static final String RETIRING = "retiring the old server";
    static final String BACKING_UP = "taking the first base backup on the new major";
    static final String FOLLOWERS = "asking for the followers' rebuilds on the new major";

    /** Returns for how many followers a rebuild on the new major was asked. */
    int finish(Database database, Consumer<String> step) throws Exception {
        Instance primary = instances.primary(database.id()).orElseThrow();
        step.accept(RETIRING);
        for (Instance instance : instances.forDatabase(database.id())) {
            if (!instance.id().equals(primary.id())) {
                retired.discard(database, instance); // the HA standby may be on another node
            }
        }
        slots.forget(ReplicationSlots.forStandby(database.id()));
        int timeline;
        try (Connection connection = connections.open(primary, "postgres").pinnedConnection()) {
            timeline = UpgradeSql.timeline(connection);
        }
        archive.retireBefore(database.id(), new TimelineId(timeline));
        step.accept(BACKING_UP);
        backups.takeNow(databases.find(database.id()).orElseThrow(), BackupKind.INITIAL);
        step.accept(FOLLOWERS);
        // Each rebuilt where it runs, by its own node, as its own operation: the upgrade does not wait for them, and the
        // follower watch asks again for one that fails or that could not be asked for now.
        int asked = 0;
        for (Database follower : databases.followers(database.id())) {
            if (follower.state() == DatabaseState.AVAILABLE && follower.major() != primary.major()) {
                Optional<Operation> rebuild = rebuilds.ask(follower, "its leader " + database.name() + " was upgraded to Postgres "
                        + primary.major());
                if (rebuild.isPresent()) {
                    LOG.info("Follower {} of {} is rebuilt on Postgres {} by operation {} on node {}", follower.name(), database.name(),
                            primary.major(), rebuild.get().id(), rebuild.get().node());
                    asked++;
                }
            }
        }
        return asked;
    }
}
