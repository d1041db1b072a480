package dev.keel.restore;

import dev.keel.archive.Backup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.ReplicationSlots;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.WalSegmentName;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;

/**
 * Restores that keep following: a follower's primary (streaming from its leader's primary) and an
 * HA standby (streaming from its own database's primary). The upstream gets a slot first, so that
 * it keeps all WAL from there on; what came before is waited for in the archive. A standby stays
 * in recovery, where a server needs at least its upstream's connection limit, so it runs with
 * that from the start. A failure drops the slot again: the upstream must not keep WAL for nobody.
 */
@Singleton
public final class StandbyRestores {
    private final Restorer restorer;
    private final ReplicationSlots slots;
    private final InstanceRepository instances;

    StandbyRestores(Restorer restorer, ReplicationSlots slots, InstanceRepository instances) {
        this.restorer = restorer;
        this.slots = slots;
        this.instances = instances;
    }

    /**
     * A server of {@code databaseId} in {@code role}, restored from {@code backup} of
     * {@code archiveOf}'s archive, that streams from {@code upstream} through slot {@code slot};
     * {@code settings} are its own (the plan's), {@code connections} at least its upstream's.
     */
    public record Standby(UUID databaseId, InstanceRole role, int major, UUID archiveOf, Instance upstream, String slot, Backup backup,
                          Map<String, String> settings, int connections, List<HbaRule> hba) {
        /**
         * A follower's server: the primary of {@code follower}, restored from {@code backup} of its
         * leader's archive and streaming from the leader's primary through the follower's slot.
         */
        public static Standby ofFollower(UUID follower, int major, UUID leader, Instance leaderPrimary, Backup backup,
                                         Map<String, String> settings, int connections, List<HbaRule> hba) {
            return new Standby(follower, InstanceRole.PRIMARY, major, leader, leaderPrimary, ReplicationSlots.forFollower(follower),
                    backup, settings, connections, hba);
        }
    }

    /** Builds the standby; returns it running and streaming (state {@code creating}). A failure removes it and its slot. */
    public Instance build(Standby standby, RestoreProgress progress, BooleanSupplier wanted) throws Exception {
        ReplicationSlots.Stream stream = slots.ensureForNewServer(standby.upstream(), standby.databaseId(), standby.slot());
        Map<String, String> settings = stream.over(standby.settings(), standby.connections());
        WalSegmentName fromArchive = new WalSegmentName(stream.firstKept().timeline(), stream.firstKept().number() - 1);
        try {
            return restorer.restore(new Restorer.Request(standby.databaseId(), standby.role(), standby.major(), standby.archiveOf(),
                    instances.superuserPassword(standby.upstream()), standby.backup(), new RecoveryTarget.Follow(fromArchive), settings,
                    standby.connections(), standby.hba(), wanted), progress);
        } catch (Exception e) {
            try {
                slots.drop(standby.upstream(), standby.slot());
            } catch (SQLException | RuntimeException dropFailed) {
                e.addSuppressed(dropFailed);
            }
            throw e;
        }
    }
}
