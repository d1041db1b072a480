package dev.keel.dataclips;

import dev.keel.databases.Database;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.keel.catalog.schema.Tables.DATACLIP_RESULTS;

/**
 * Runs of clips on a fixed pool of runner threads. A version with the same parameter values runs
 * once at a time (a second request joins the first). On access, a result younger than the
 * freshness age is served as stored; an older one is re-run, at most once per that age, as
 * Heroku does.
 */
@Singleton
final class ClipRuns {
    private final ClipRunner runner;
    private final ResultRepository results;
    private final DSLContext dsl;
    private final ExecutorService executor;
    private final Duration wait;
    private final Duration freshFor;
    private final int linkRuns;
    private final Map<String, Run> inFlight = new ConcurrentHashMap<>();

    /** A run under way: its result row as started, and its end. */
    private record Run(ClipResult started, CompletableFuture<ClipResult> done) {
    }

    ClipRuns(ClipRunner runner, ResultRepository results, DSLContext dsl, @Value("${keel.dataclips.runners}") int runners,
             @Value("${keel.dataclips.wait}") Duration wait, @Value("${keel.dataclips.fresh-for}") Duration freshFor,
             @Value("${keel.dataclips.link-runs}") int linkRuns) {
        this.linkRuns = linkRuns;
        this.runner = runner;
        this.results = results;
        this.dsl = dsl;
        this.wait = wait;
        this.freshFor = freshFor;
        AtomicInteger count = new AtomicInteger();
        this.executor = Executors.newFixedThreadPool(runners, r -> {
            Thread thread = new Thread(r, "keel-dataclip-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Runs Keel stopped during cannot finish: they end as failed, saying so. */
    @PostConstruct
    void failInterrupted() {
        dsl.update(DATACLIP_RESULTS).set(DATACLIP_RESULTS.STATE, ClipResult.FAILED)
                .set(DATACLIP_RESULTS.FINISHED_AT, DSL.currentOffsetDateTime())
                .set(DATACLIP_RESULTS.ERROR_MESSAGE, "Keel stopped while this ran; refresh the dataclip to run it again.")
                .where(DATACLIP_RESULTS.STATE.eq(ClipResult.RUNNING)).execute();
    }

    @PreDestroy
    void stop() {
        executor.shutdownNow();
    }

    /** Runs now (or joins the run under way) and waits for it up to the configured wait; a longer run is returned as running. */
    ClipResult runAndWait(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> values) {
        return await(start(clip, database, prepared, values));
    }

    /**
     * The result to serve on access: the newest stored one while it is fresh, else a new run
     * (waited for up to the configured wait), unless one started within the freshness age.
     * Empty only when nothing finished yet and the run under way takes longer than the wait.
     */
    Optional<ClipResult> fresh(Dataclip clip, java.util.function.Supplier<Database> database, ClipText.Prepared prepared,
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
        if (running == null && results.startedSince(clip.id(), now.minus(freshFor)) >= linkRuns) {
            // Each new set of parameter values in a link could start a run: a clip runs at most this often.
            if (stored.isPresent()) {
                return stored;
            }
            throw new KeelException(ProblemType.TOO_MANY_RUNS, "This dataclip ran " + linkRuns + " times in the last "
                    + freshFor.toSeconds() + " s, the most its link may make it run; try again in a minute.");
        }
        ClipResult result = await(running != null ? running : start(clip, database.get(), prepared, values));
        return result.finished() ? Optional.of(result) : stored;
    }

    private Run start(Dataclip clip, Database database, ClipText.Prepared prepared, Map<String, String> values) {
        String parameters = Json.write(values);
        String key = key(clip, parameters);
        Run run = inFlight.computeIfAbsent(key, k -> {
            ClipResult result = results.start(clip.id(), clip.version().id(), parameters);
            CompletableFuture<ClipResult> done = CompletableFuture.supplyAsync(() -> {
                runner.run(clip, database, result, prepared, values);
                return results.find(result.id()).orElse(result);
            }, executor);
            return new Run(result, done);
        });
        // Attached outside computeIfAbsent: a run already over would otherwise remove itself inside it.
        run.done().whenComplete((r, e) -> inFlight.remove(key, run));
        return run;
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
