package dev.keel.restore;

import dev.keel.archive.ArchiveReport;
import dev.keel.archive.Backup;
import dev.keel.databases.Database;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.WalSegmentName;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A database's primary made anew from its own archive, replayed to its end (through the part of
 * the newest segment its WAL receiver stored), and promoted onto a new timeline: for a primary
 * whose node is gone for good. It is the same database, so its roles, passwords and data are the
 * archive's as of its last stored commit.
 */
@Singleton
public final class PrimaryRestores {
    private final Restorer restorer;
    private final ArchiveReport report;
    private final InstanceRepository instances;
    private final Plans plans;
    private final InstanceMaker maker;

    PrimaryRestores(Restorer restorer, ArchiveReport report, InstanceRepository instances, Plans plans, InstanceMaker maker) {
        this.restorer = restorer;
        this.report = report;
        this.instances = instances;
        this.plans = plans;
        this.maker = maker;
    }

    /** What a primary made anew starts from and replays through. */
    public record Origin(Backup backup, WalSegmentName through) {
    }

    /**
     * Where {@code database}'s archive lets a new primary start from (its newest restorable base
     * backup) and how far it replays (its newest stored segment); a 409 {@code no-backup} when it
     * has no backup with its WAL archived.
     */
    public Origin origin(Database database) {
        List<ArchiveReport.Restorable> restorable = report.restorable(database.id()).backups();
        if (restorable.isEmpty()) {
            throw new KeelException(ProblemType.NO_BACKUP, database.name() + " has no base backup with its WAL archived, so its"
                    + " archive cannot make it anew; its data is only on its old server's disk.");
        }
        Backup backup = restorable.get(restorable.size() - 1).backup();
        WalSegmentName through = report.newestStored(database.id()).orElseThrow(() -> new KeelException(ProblemType.NO_BACKUP,
                database.name() + " has no WAL in its archive, so its archive cannot make it anew."));
        return new Origin(backup, through);
    }

    /**
     * Restores {@code database}'s primary on this node from {@code origin} and promotes it; returns
     * it running (state {@code creating}). {@code lost} is the primary it replaces, whose
     * superuser's password the archive holds (the new server's is then changed). A failure removes
     * the new server; {@code wanted} turning false (the database being deleted) stops it.
     */
    public Instance restore(Database database, Instance lost, Origin origin, Map<String, String> settings, List<HbaRule> hba,
                            RestoreProgress progress, BooleanSupplier wanted) throws Exception {
        return restorer.restore(new Restorer.Request(database.id(), InstanceRole.PRIMARY, database.major(), database.id(),
                instances.superuserPassword(lost), origin.backup(), new RecoveryTarget.EndOfArchive(origin.through()), settings,
                plans.require(database.plan()).connections(), hba, wanted), progress);
    }

    /**
     * Finishes what {@link #restore} had left when Keel stopped: {@code made}, a server it
     * restored from {@code lost}'s archive that Postgres has promoted since, gets what a restore
     * gives its server once promoted ({@code settings} and {@code hba} without the restore's, and
     * its own superuser password while it still has {@code lost}'s: a second change could be the
     * one a stop cuts between the server and the catalog).
     */
    public void finishPromoted(Instance made, Instance lost, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        boolean lostsPassword = instances.superuserPassword(made).equals(instances.superuserPassword(lost));
        restorer.finish(made, lostsPassword, maker.settings(made, settings), hba);
    }
}
