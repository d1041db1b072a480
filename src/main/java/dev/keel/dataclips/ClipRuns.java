package dev.keel.dataclips;

import dev.keel.databases.Database;
import dev.keel.nodes.Placement;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Runs of clips, on the runner threads of a {@link RunQueue} shared fairly by teams (each with its
 * own concurrency, queue and rate). A team's runs running and waiting also count across the nodes
 * (its result rows), and so does its rate ({@link TeamRunRate}). A version with the same parameter values runs
 * once at a time: asking the API for it again while it is queued or running is a 409 naming that
 * run; a share link serves the stored result meanwhile (or waits for the run, when nothing is stored yet). On
 * access, a result younger than the freshness age is served as stored; an older one is re-run, at
 * most once per that age, as Heroku does.
 */
@Singleton
final class ClipRuns {
    private final ClipRunner runner;
    private final ResultRepository results;
    private final RunQueue queue;
    private final Duration wait;
    private final Duration freshFor;
    private final int linkRuns;
    private final ThisNode node;
    private final Placement placement;
    private final int teamConcurrency;
    private final int teamQueue;
    private final TeamRunRate rate;
    private final Map<String, Run> inFlight = new ConcurrentHashMap<>();

    /** A run under way: its result row as started, and its end. */
    private record Run(ClipResult started, CompletableFuture<ClipResult> done) {
    }

    ClipRuns(ClipRunner runner, ResultRepository results, @Value("${keel.dataclips.runners}") int runners,
             @Value("${keel.dataclips.team-concurrency}") int teamConcurrency, @Value("${keel.dataclips.team-queue}") int teamQueue,
             @Value("${keel.dataclips.team-runs-per-minute}") int teamRunsPerMinute,
             @Value("${keel.dataclips.wait}") Duration wait, @Value("${keel.dataclips.fresh-for}") Duration freshFor,
             @Value("${keel.dataclips.link-runs}") int linkRuns, ThisNode node, Placement placement) {
        this.linkRuns = linkRuns;
        this.teamConcurrency = teamConcurrency;
        this.teamQueue = teamQueue;
        this.node = node;
        this.placement = placement;
        this.runner = runner;
        this.results = results;
        this.wait = wait;
        this.freshFor = freshFor;
        this.queue = new RunQueue("keel-dataclip", runners, teamConcurrency, teamQueue, teamRunsPerMinute, System::nanoTime);
        this.rate = new TeamRunRate(teamRunsPerMinute);
    }

    /**
     * Runs this node's Keel stopped during cannot finish: they end as failed, saying so, and so do
     * those of nodes silent past {@code keel.node.lost-after} (a run lives in its node's Keel). Other
     * nodes' runs go on. A run an older Keel recorded (no node) is taken for stopped only while no
     * node of another version heartbeats: during a rolling upgrade, it may be an older node's, running.
     */
    @PostConstruct
    void failInterrupted() {
        Set<String> silent = placement.silent();
        Set<String> stopped = new HashSet<>(silent);
        stopped.add(node.name());
        Set<String> otherVersion = new HashSet<>(placement.byVersion().otherVersion());
        otherVersion.removeAll(silent); // a node retired during an upgrade stays registered, silent
        results.failRunningOn(stopped, otherVersion.isEmpty());
    }

    @PreDestroy
    void stop() {
        queue.stop();
    }

    /**
     * Runs now and waits for it up to the configured wait; a longer run is returned as running.
     * 409 ({@code run-in-progress}) naming the run when the same version with the same values is
     * queued or running; 429 when the team may not start a run now.
     */
    ClipResult runAndWait(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> values) {
        return await(start(clip, database, prepared, values, true, null));
    }

    /** 429 when {@code team} may not start a run now: asked before saving what a run would follow, so a refusal saves nothing. */
    void checkTeamMayRun(UUID team) {
        queue.check(team); // this node's own count first: it says the same in its words while all the team's runs are here
        admitAcrossNodes(results.unfinished(team, node.lost()));
        results.checkRate(team, rate);
    }

    /** The 429 when the team's runs not finished on every node, {@code unfinished}, take all it may run and queue. */
    private void admitAcrossNodes(int unfinished) {
        if (unfinished >= teamConcurrency + teamQueue) {
            throw new KeelException(ProblemType.TOO_MANY_RUNS, "Your team has " + unfinished + " dataclip runs running or waiting across"
                    + " Keel's nodes, the most it may (KEEL_DATACLIPS_TEAM_CONCURRENCY " + teamConcurrency + ", KEEL_DATACLIPS_TEAM_QUEUE "
                    + teamQueue + "); try again once one has finished.").retryAfter(RunQueue.FULL_RETRY_SECONDS);
        }
    }

    /** Runs now, or joins the run of the same version and values under way (a change of the clip's title or time limit, say). */
    ClipResult runOrJoin(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> values) {
        return await(start(clip, database, prepared, values, false, null));
    }

    /**
     * The result to serve on access: the newest stored one while it is fresh, else a new run
     * (waited for up to the configured wait), unless one started within the freshness age.
     * Empty only when nothing finished yet and the run under way takes longer than the wait.
     */
    Optional<ClipResult> fresh(Dataclip clip, Supplier<Database> database, ClipText.Prepared prepared,
                               Map<String, String> values) {
        String parameters = Json.write(values);
        Optional<ClipResult> stored = results.newestFinished(clip.version().id(), parameters);
        OffsetDateTime now = OffsetDateTime.now();
        if (stored.isPresent() && stored.get().finishedAt().plus(freshFor).isAfter(now)) {
            return stored;
        }
        Optional<ClipResult> newest = results.newest(clip.version().id(), parameters);
        Run running = inFlight.get(key(clip, parameters));
        boolean recentlyStarted = newest.isPresent() && newest.get().startedAt().plus(freshFor).isAfter(now);
        if (stored.isPresent() && (recentlyStarted || running != null)) {
            return stored; // rate limit: at most one run per freshness age; the stored result meanwhile
        }
        Run run;
        try {
            if (running == null) {
                // Asked first without the team's lock too, so that a link past its runs is refused without waiting for it.
                admitLink(results.startedWithin(clip.id(), freshFor));
            }
            run = running != null ? running : start(clip, database.get(), prepared, values, false,
                    new ResultRepository.LinkRuns(freshFor, this::admitLink));
        } catch (KeelException refused) {
            if (refused.type() == ProblemType.TOO_MANY_RUNS && stored.isPresent()) {
                return stored; // the link's clip or its team may not run now: what is stored
            }
            throw refused;
        }
        ClipResult result = await(run);
        return result.finished() ? Optional.of(result) : stored;
    }

    /**
     * The 429 when the clip's runs that started within the freshness age, {@code started}, are all a link may make it run:
     * the owner's refreshes and new versions, and requests on other nodes (each with its runs under way), could otherwise
     * make a link run its clip without end. Counted under the team's run lock as the run is recorded, so that parallel
     * requests cannot all pass it.
     */
    private void admitLink(int started) {
        if (started >= linkRuns) {
            throw new KeelException(ProblemType.TOO_MANY_RUNS, "This dataclip ran " + started + " times in the last "
                    + freshFor.toSeconds() + " s, the most its link may make it run (KEEL_DATACLIPS_LINK_RUNS " + linkRuns
                    + "); try again in a minute.").retryAfter(freshFor.toSeconds());
        }
    }

    private Run start(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> values, boolean alone,
                      @Nullable ResultRepository.LinkRuns link) {
        String parameters = Json.write(values);
        String key = key(clip, parameters);
        boolean[] made = new boolean[1];
        Run run = inFlight.computeIfAbsent(key, k -> {
            // Asked first without the team's lock too: a team past its runs is refused without waiting for it.
            checkTeamMayRun(clip.teamId());
            ClipResult result = results.start(clip.teamId(), clip.id(), clip.version().id(), parameters, node.name(), node.lost(),
                    this::admitAcrossNodes, rate, link);
            CompletableFuture<ClipResult> done;
            try {
                done = queue.submit(clip.teamId(), () -> {
                    runner.run(clip, database, result, prepared, values);
                    return results.find(result.id()).orElse(result);
                });
            } catch (KeelException refused) {
                results.delete(result.id()); // a run refused (429) leaves no result behind, and costs the team's rate nothing
                results.refund(clip.teamId(), rate);
                throw refused;
            }
            made[0] = true;
            return new Run(result, done);
        });
        if (alone && !made[0]) {
            throw inProgress(clip, run);
        }
        // Attached outside computeIfAbsent: a run already over would otherwise remove itself inside it.
        run.done().whenComplete((r, e) -> inFlight.remove(key, run));
        return run;
    }

    private static KeelException inProgress(Dataclip clip, Run run) {
        return new KeelException(ProblemType.RUN_IN_PROGRESS, "This dataclip is already running with these parameter values (result "
                + run.started().id() + ", started at " + run.started().startedAt() + "); GET /v1/dataclips/" + clip.id()
                + " shows its result once it has finished.").with("result_id", run.started().id().toString());
    }

    private ClipResult await(Run run) {
        try {
            return run.done().get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return results.find(run.started().id()).orElse(run.started());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a dataclip run", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("a dataclip run failed", e.getCause());
        }
    }

    private static String key(Dataclip clip, String parameters) {
        return clip.version().id() + " " + parameters;
    }
}
