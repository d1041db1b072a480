package dev.keel.restore;

import dev.keel.databases.DatabaseState;
import org.jooq.exception.DataAccessException;
import dev.keel.postgres.ServerSession;
import dev.keel.archive.ArchiveReport;
import dev.keel.archive.Backup;
import dev.keel.auth.Caller;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseOrigin;
import dev.keel.databases.Plan;
import dev.keel.databases.Plans;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.WalSegmentName;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Checks a fork, rollback or follower request ({@link #check}) and then fixes its origin
 * ({@link #origin}): the source, the base backup to start from, and how far to replay. Every
 * refusal says what to do instead. The target is checked against what is archived now, so that a
 * restore never runs for half an hour to end in "recovery ended before configured recovery target
 * was reached". Checking touches nothing; only fixing a fork's origin does something to its source
 * (it finishes the source's current WAL segment), so a request these checks refuse leaves the
 * source as it was. The caller's own refusals that come after (a taken name, the quota, no room,
 * checked as the database is recorded) find the segment finished: one more in the source's archive.
 */
@Singleton
public final class CopyRequests {
    private final DatabaseLookup lookup;
    private final Plans plans;
    private final ArchiveReport report;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final InstanceRuntime runtime;
    private final PostgresBinaries binaries;

    CopyRequests(DatabaseLookup lookup, Plans plans, ArchiveReport report, InstanceRepository instances, InstanceConnections connections,
                 InstanceRuntime runtime, PostgresBinaries binaries) {
        this.runtime = runtime;
        this.binaries = binaries;
        this.lookup = lookup;
        this.plans = plans;
        this.report = report;
        this.instances = instances;
        this.connections = connections;
    }

    /**
     * A request that passed every check: its source and its origin, which for a fork as of now
     * still lacks the segment it replays through ({@link #origin} fixes it).
     */
    public record Checked(Database source, DatabaseOrigin origin) {
    }

    /**
     * Checks a copy request for a database on {@code plan} against its source and what is
     * archived; a problem (4xx) says what is wrong. Nothing is done to the source.
     */
    public Checked check(Caller caller, CreateDatabaseRequest request, Plan plan) {
        if ((request.fork() != null ? 1 : 0) + (request.rollback() != null ? 1 : 0) + (request.follow() != null ? 1 : 0) > 1) {
            throw invalid("Say one of \"fork\", \"rollback\" or \"follow\", not several.");
        }
        if (request.follow() != null) {
            return follower(caller, request, plan);
        }
        boolean rollback = request.rollback() != null;
        boolean fast = Boolean.TRUE.equals(request.fast());
        if (rollback) {
            if ((request.to() == null) == (request.by() == null)) {
                throw invalid("A rollback needs exactly one of \"to\" (a time such as 2026-11-26T10:15:42Z) or \"by\" (such as"
                        + " \"2 hours 10 minutes\").");
            }
            if (fast) {
                throw invalid("\"fast\" goes with \"fork\"; a rollback restores to the time in \"to\" or \"by\".");
            }
        } else if (request.to() != null || request.by() != null) {
            throw invalid("A fork copies its source as of now; for a copy as of an earlier time, ask for \"rollback\" with \"to\" or \"by\".");
        }
        Instant target = !rollback ? null : request.to() != null ? TargetTimes.parseTo(request.to())
                : Instant.now().minus(TargetTimes.parseBy(request.by())).truncatedTo(ChronoUnit.SECONDS);
        String verb = rollback ? "roll back" : "fork";

        Database source = lookup.require(caller, rollback ? request.rollback() : request.fork());
        requireSourceVersion(request, source);
        if (!plan.fork()) {
            throw invalid("Plan " + plan.name() + " cannot " + verb + "; choose a plan that can, such as " + capablePlans() + ".");
        }
        Plan sourcePlan = plans.require(source.plan());
        if (!sourcePlan.fork() || (rollback && sourcePlan.rollbackWindowDays() == 0)) {
            throw invalid(source.name() + " is on plan " + sourcePlan.name() + ", whose databases cannot be "
                    + (rollback ? "rolled back" : "forked") + "; change its plan to one of " + capablePlans() + " first.");
        }
        if (source.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, source.name() + " is " + source.state().value() + "; it can be used to "
                    + verb + " once it is available.");
        }
        Instant now = Instant.now();
        if (target != null && target.isAfter(now)) {
            throw invalid("rollback target " + target + " is in the future; choose a time up to now (" + now.truncatedTo(ChronoUnit.SECONDS)
                    + ").");
        }
        ArchiveReport.Restorability restorability = report.restorable(source.id());
        ArchiveReport.Window window = restorability.window();
        List<ArchiveReport.Restorable> restorable = restorability.backups();
        if (window == null || restorable.isEmpty()) {
            throw invalid(source.name() + " has no base backup with its WAL archived yet, so there is nothing to " + verb
                    + " from; wait until its first backup completes (GET /v1/databases/" + source.name() + "/backups).");
        }
        if (target != null) {
            if (target.isBefore(window.from())) {
                throw invalid("rollback target " + target + " is before the earliest restorable time " + window.from() + " of "
                        + source.name() + "; choose a time from " + window.from() + " to " + window.to() + ".")
                        .with("window", window);
            }
            if (target.isAfter(window.to()) && !serverRuns(source)) {
                // Its server is gone: what the archive holds, through the last streamed commit, is all there is.
                target = window.to();
            } else if (target.isAfter(window.to())) {
                throw invalid("rollback target " + target + " is after the newest archived WAL of " + source.name() + " (finished "
                        + window.to() + "); WAL is archived at least every archive_timeout, so try again shortly, or choose a"
                        + " time from " + window.from() + " to " + window.to() + ".").with("window", window);
            }
            Instant at = target;
            Backup backup = restorable.stream().filter(r -> !r.from().isAfter(at)).reduce((a, b) -> b).orElseThrow().backup();
            return new Checked(source, new DatabaseOrigin(DatabaseOrigin.Kind.ROLLBACK, source.id(), source.name(), backup.id(),
                    backup.finishedAt(), at, null, false));
        }
        Backup newest = restorable.get(restorable.size() - 1).backup();
        return new Checked(source, new DatabaseOrigin(DatabaseOrigin.Kind.FORK, source.id(), source.name(), newest.id(),
                newest.finishedAt(), null, null, fast));
    }

    /**
     * The origin of a {@link #check}ed request, fixed: a fork as of now replays through the
     * segment that holds its source's last write, finished now when the source's server runs, or
     * else through the newest segment its archive stored. Every other origin is as checked. Called
     * after every check of the request, since finishing the segment is done to the source.
     */
    public DatabaseOrigin origin(Checked checked) {
        DatabaseOrigin origin = checked.origin();
        if (origin.kind() != DatabaseOrigin.Kind.FORK || origin.fast()) {
            return origin;
        }
        Database source = checked.source();
        String through = serverRuns(source) ? lastWrittenSegment(source)
                : report.newestStored(source.id()).map(WalSegmentName::toString).orElseThrow();
        return new DatabaseOrigin(origin.kind(), origin.sourceId(), origin.sourceName(), origin.backupId(), origin.backupFinishedAt(),
                null, through, false);
    }

    /**
     * A copy has its source's Postgres version: a request naming another is refused, before
     * anything else is checked against the source.
     */
    private void requireSourceVersion(CreateDatabaseRequest request, Database source) {
        if (request.version() != null && binaries.parseMajor(request.version()) != source.major()) {
            throw new KeelException(ProblemType.UNSUPPORTED_VERSION, "A database made from " + source.name()
                    + " has its Postgres version, " + source.major() + "; leave \"version\" out or say " + source.major() + ".")
                    .with("valid_values", List.of(source.major()));
        }
    }

    /** A follower's origin: its leader's newest restorable base backup, replayed to the end and on by streaming. */
    private Checked follower(Caller caller, CreateDatabaseRequest request, Plan plan) {
        if (request.to() != null || request.by() != null || request.fast() != null) {
            throw invalid("A follower streams its leader's changes as they happen; \"to\", \"by\" and \"fast\" go with \"rollback\""
                    + " and \"fork\".");
        }
        Database leader = lookup.require(caller, request.follow());
        requireSourceVersion(request, leader);
        if (!plan.follow()) {
            throw invalid("Plan " + plan.name() + " cannot follow another database; choose a plan that can, such as "
                    + followPlans() + ".");
        }
        if (leader.following()) {
            String leadersLeader = lookup.find(leader.leaderId()).map(Database::name).orElse("its leader");
            throw invalid(leader.name() + " is itself a follower, and a follower cannot be followed; follow " + leadersLeader
                    + " instead.");
        }
        Plan leaderPlan = plans.require(leader.plan());
        if (!leaderPlan.follow()) {
            throw invalid(leader.name() + " is on plan " + leaderPlan.name() + ", whose databases cannot be followed; change its plan"
                    + " to one of " + followPlans() + " first.");
        }
        if (leader.state() != DatabaseState.AVAILABLE) {
            throw new KeelException(ProblemType.NOT_AVAILABLE, leader.name() + " is " + leader.state().value() + "; it can be followed"
                    + " once it is available.");
        }
        List<ArchiveReport.Restorable> restorable = report.restorable(leader.id()).backups();
        if (restorable.isEmpty()) {
            throw invalid(leader.name() + " has no base backup with its WAL archived yet, which a follower starts from; wait until its"
                    + " first backup completes (GET /v1/databases/" + leader.name() + "/backups).");
        }
        Backup newest = restorable.get(restorable.size() - 1).backup();
        return new Checked(leader, new DatabaseOrigin(DatabaseOrigin.Kind.FOLLOW, leader.id(), leader.name(), newest.id(),
                newest.finishedAt(), null, null, false));
    }

    private String followPlans() {
        return String.join(", ", plans.all().stream().filter(Plan::follow).map(Plan::name).toList());
    }

    /**
     * The segment that holds the source's last write so far, finished now (pg_switch_wal), so
     * that the fork replays to this moment without waiting for archive_timeout. The switch only
     * closes the current segment early; nothing in the source's data changes.
     */
    private String lastWrittenSegment(Database source) {
        Instance primary = instances.primary(source.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                source.name() + " has no running server to fork from; try again once it is available."));
        try (ServerSession session = connections.open(primary, "postgres")) {
            return session.switchWalLastWritten().toString();
        } catch (SQLException | DataAccessException e) {
            throw new KeelException(ProblemType.UNAVAILABLE, source.name() + "'s server did not answer, so Keel cannot tell how far to"
                    + " fork; try again in a moment.", e);
        }
    }

    /** Whether the source's primary server runs; when it does not, its archive (with the streamed partial) is all of it. */
    private boolean serverRuns(Database source) {
        return instances.primary(source.id()).map(runtime::isRunning).orElse(false);
    }

    private String capablePlans() {
        return String.join(", ", plans.all().stream().filter(Plan::fork).map(Plan::name).toList());
    }

    private static KeelException invalid(String detail) {
        return new KeelException(ProblemType.INVALID_REQUEST, detail);
    }
}
