package dev.keel.lifecycle;

import dev.keel.Network;
import dev.keel.archive.ArchiveRetirement;
import dev.keel.archive.Backup;
import dev.keel.archive.BackupKind;
import dev.keel.archive.BaseBackups;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.databases.RetiredServers;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceState;
import dev.keel.instances.ReplicationSlots;
import dev.keel.postgres.TimelineId;
import dev.keel.restore.StandbyRestores;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.util.function.Consumer;

/**
 * After the switch: the old server (and the HA standby, a copy of it) removed, the archive
 * started anew on the new server's timeline with a first base backup, and each follower rebuilt on
 * the new major from that backup, streaming from the new primary. Every step may run again, so an
 * upgrade Keel stopped during after the switch is finished from here. The HA monitor builds the
 * new standby from the first backup.
 */
@Singleton
final class UpgradeAftermath {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeAftermath.class);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ReplicationSlots slots;
    private final ArchiveRetirement archive;
    private final BaseBackups backups;
    private final StandbyRestores standbys;
    private final DatabaseLookup databases;
    private final Plans plans;
    private final Network network;
    private final RetiredServers retired;

    UpgradeAftermath(InstanceRepository instances, InstanceConnections connections, ReplicationSlots slots,
                     ArchiveRetirement archive, BaseBackups backups, StandbyRestores standbys, DatabaseLookup databases, Plans plans,
                     Network network, RetiredServers retired) {
        this.retired = retired;
        this.instances = instances;
        this.connections = connections;
        this.slots = slots;
        this.archive = archive;
        this.backups = backups;
        this.standbys = standbys;
        this.databases = databases;
        this.plans = plans;
        this.network = network;
    }

    static final String RETIRING = "retiring the old server";
    static final String BACKING_UP = "taking the first base backup on the new major";
    static final String FOLLOWERS = "rebuilding followers on the new major";

    /** Returns how many followers were rebuilt. */
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
        Database upgraded = databases.find(database.id()).orElseThrow();
        Backup first = backups.takeNow(upgraded, BackupKind.INITIAL);
        step.accept(FOLLOWERS);
        int rebuilt = 0;
        for (Database follower : databases.followers(database.id())) {
            if (follower.state() == DatabaseState.AVAILABLE && follower.major() != primary.major()) {
                rebuild(follower, upgraded, primary, first);
                rebuilt++;
            }
        }
        return rebuilt;
    }

    private void rebuild(Database follower, Database leader, Instance leaderPrimary, Backup backup) throws Exception {
        for (Instance instance : instances.forDatabase(follower.id())) {
            retired.discard(follower, instance); // a follower may be on another node than its leader
        }
        slots.forget(ReplicationSlots.forFollower(follower.id()));
        databases.changeMajor(follower.id(), leaderPrimary.major());
        Plan plan = plans.require(follower.plan());
        int connections = Math.max(plan.connections(), plans.require(leader.plan()).connections());
        Instance made = standbys.build(StandbyRestores.Standby.ofFollower(follower.id(), leaderPrimary.major(), leader.id(), leaderPrimary,
                backup, Plans.serverSettings(plan), connections, InstanceConfig.hba(follower.pgDatabase(), network.keelSources())),
                (step, done, total, unit) -> { }, () -> true);
        instances.transition(made.id(), InstanceState.RUNNING);
        LOG.info("Follower {} rebuilt on Postgres {} from backup {}", follower.name(), leaderPrimary.major(), backup.id());
    }
}
