package dev.keel.restore;

import dev.keel.archive.Backup;
import dev.keel.archive.BackupRepository;
import dev.keel.archive.BackupState;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseOrigin;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.WalSegmentName;
import jakarta.inject.Singleton;

import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Forks, rollbacks and followers built: the new database's primary restored from its origin
 * (which {@link CopyRequests} checked and fixed) by the {@link Restorer}. A follower gets a
 * replication slot on its leader first, so that the leader keeps all WAL from there on; what came
 * before is waited for in the archive.
 */
@Singleton
public final class Copies {
    private final Restorer restorer;
    private final BackupRepository backups;
    private final InstanceRepository instances;
    private final DatabaseLookup databases;
    private final Plans plans;
    private final StandbyRestores standbys;

    Copies(Restorer restorer, BackupRepository backups, InstanceRepository instances, DatabaseLookup databases, Plans plans,
           StandbyRestores standbys) {
        this.standbys = standbys;
        this.restorer = restorer;
        this.backups = backups;
        this.instances = instances;
        this.databases = databases;
        this.plans = plans;
    }

    /**
     * Restores {@code database}'s primary from its origin and promotes it: a running instance
     * (state {@code creating}) with {@code settings} and {@code hba}, whose data is the source's
     * as of the origin's target. Reports each step on {@code progress}, and stops when
     * {@code wanted} turns false (the database is being deleted).
     */
    public Instance restore(Database database, DatabaseOrigin origin, Map<String, String> settings, List<HbaRule> hba,
                            RestoreProgress progress, BooleanSupplier wanted) throws Exception {
        Database source = databases.find(origin.sourceId()).orElseThrow(() -> new RestoreFailedException(
                origin.sourceName() + " was deleted before its " + origin.kind().value() + " could start; its archive is gone."));
        Backup backup = backups.find(source.id(), origin.backupId()).filter(b -> b.state() == BackupState.COMPLETED)
                .orElseThrow(() -> new RestoreFailedException("The base backup of " + source.name() + " this "
                        + origin.kind().value() + " starts from was removed meanwhile; delete this database and ask again."));
        Instance sourcePrimary = instances.primary(source.id()).orElseThrow(() -> new RestoreFailedException(
                source.name() + " has no server, so Keel cannot tell its superuser's password; try again once it is available."));
        int connections = Integer.parseInt(settings.get("max_connections"));
        int sourceConnections = plans.find(source.plan()).map(Plan::connections).orElse(connections);
        int recoveryConnections = Math.max(connections, sourceConnections);
        if (origin.kind() == DatabaseOrigin.Kind.FOLLOW) {
            // A standby of the leader's primary, streaming through its own slot there.
            return standbys.build(StandbyRestores.Standby.ofFollower(database.id(), database.major(), source.id(), sourcePrimary, backup,
                    settings, recoveryConnections, hba), progress, wanted);
        }
        RecoveryTarget target = origin.targetTime() != null ? new RecoveryTarget.Time(origin.targetTime())
                : origin.fast() ? new RecoveryTarget.Immediate()
                : new RecoveryTarget.EndOfArchive(WalSegmentName.parse(origin.throughSegment()));
        return restorer.restore(new Restorer.Request(database.id(), InstanceRole.PRIMARY, database.major(), source.id(),
                instances.superuserPassword(sourcePrimary), backup, target, settings, recoveryConnections, hba, wanted), progress);
    }
}
