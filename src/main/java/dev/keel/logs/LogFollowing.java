package dev.keel.logs;

import dev.keel.StartupException;
import dev.keel.auth.ApiKeys;
import dev.keel.auth.Caller;
import dev.keel.postgres.Durations;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Context;
import io.micronaut.context.annotation.Value;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

/**
 * Log follow streams ({@code GET .../logs?follow=true}, {@code heroku logs --tail}): how long one
 * lasts ({@code keel.logs.follow-for}), how many one team may hold open at once on this node
 * ({@code keel.logs.follow-max-per-team}), a keepalive now and then
 * ({@code keel.logs.follow-keepalive}), so that a quiet stream's client that vanished is noticed,
 * and the API key it was opened with, which every poll asks after right before it reads
 * ({@link ApiKeys#stillActive}), so that a stream ends at its next poll once its key is revoked
 * and sends nothing read after that. Settings are read as Keel starts, so that one it cannot use
 * stops the start rather than the first follow.
 *
 * <p>A stream counts from the request that opens it until it ends by any path (the client goes,
 * the follow time passes, its key is revoked, an error); one whose answer never began (the client
 * went first) stops counting after {@link #UNSTARTED_FOR}, so that no path leaks a count that would
 * lock a team out.
 */
@Context
public final class LogFollowing {
    /** How often a follow stream reads what its logs gained, and asks whether its key is still there. */
    public static final Duration POLL = Duration.ofMillis(500);
    static final Duration UNSTARTED_FOR = Duration.ofMinutes(1);

    private final Duration followFor;
    private final long keepaliveTicks;
    private final int maxPerTeam;
    private final ApiKeys keys;
    /** The streams each team holds open here; guarded by {@code this}. */
    private final Map<UUID, List<Follow>> open = new HashMap<>();

    LogFollowing(@Value("${keel.logs.follow-for:1h}") String followFor, @Value("${keel.logs.follow-max-per-team:10}") int maxPerTeam,
                 @Value("${keel.logs.follow-keepalive:15s}") String keepalive, ApiKeys keys) {
        this.followFor = Durations.parse("KEEL_LOGS_FOLLOW_FOR", followFor);
        Duration keepaliveEvery = Durations.parse("KEEL_LOGS_FOLLOW_KEEPALIVE", keepalive);
        if (keepaliveEvery.compareTo(POLL) < 0) {
            throw new StartupException("KEEL_LOGS_FOLLOW_KEEPALIVE (" + keepalive + ") must be at least " + POLL.toMillis() + "ms, a poll:"
                    + " a follow stream sends a keepalive at a poll");
        }
        this.keepaliveTicks = keepaliveEvery.toMillis() / POLL.toMillis();
        this.keys = keys;
        if (this.followFor.toSeconds() < 1) {
            throw new StartupException("KEEL_LOGS_FOLLOW_FOR (" + followFor + ") must be at least 1s: a follow stream ends after it");
        }
        if (maxPerTeam < 1) {
            throw new StartupException("KEEL_LOGS_FOLLOW_MAX_PER_TEAM (" + maxPerTeam + ") must be at least 1: it is how many log follow"
                    + " streams one team may hold open at once");
        }
        this.maxPerTeam = maxPerTeam;
    }

    /** One open stream: whose, since when, and whether its answer began. */
    private static final class Follow {
        private final UUID teamId;
        private final Instant reservedAt = Instant.now();
        private volatile boolean started;

        Follow(UUID teamId) {
            this.teamId = teamId;
        }

        boolean abandoned(Instant now) {
            return !started && reservedAt.plus(UNSTARTED_FOR).isBefore(now);
        }
    }

    /** The 429 when {@code caller}'s team holds as many follow streams as it may; nothing otherwise (a session that will follow asks first). */
    public void requireRoom(Caller caller) {
        synchronized (this) {
            refuseWhenFull(held(caller.teamId()));
        }
    }

    /**
     * A follow stream for {@code caller}: {@code first}, then what {@code poll} gives at every
     * {@link #POLL} (its argument counts the polls), with {@code keepalive} (an event clients
     * ignore, such as an SSE comment) every {@code keel.logs.follow-keepalive}, until the follow
     * time has passed or {@code caller}'s key is gone. It counts against the team from now on (the
     * 429 when the team has no room); call it last, once nothing else can refuse the request.
     */
    public <T> Flux<T> follow(Caller caller, Flux<T> first, Function<Long, Publisher<T>> poll, T keepalive) {
        Follow follow = reserve(caller.teamId());
        // One poll at a time (prefetch 1), the key asked right before its read: a client that stopped reading while its key was
        // revoked gets, once it reads again, nothing read after. On boundedElastic: the key check and the polls read the catalog and
        // files. A client slower than the polls misses polls, not lines.
        Flux<T> more = Flux.interval(POLL, Schedulers.boundedElastic()).onBackpressureDrop()
                .take(followFor)
                .concatMap(tick -> Mono.fromCallable(() -> keys.stillActive(caller.keyId())).subscribeOn(Schedulers.boundedElastic())
                        .flatMapMany(active -> active ? Flux.concat(poll.apply(tick), keepaliveAt(tick, keepalive)).map(Optional::of)
                                : Flux.just(Optional.<T>empty())), 1)
                .takeWhile(Optional::isPresent)
                .map(Optional::get);
        return Flux.concat(first, more).doOnSubscribe(s -> follow.started = true).doFinally(signal -> release(follow));
    }

    private <T> Flux<T> keepaliveAt(long tick, T keepalive) {
        return tick % keepaliveTicks == keepaliveTicks - 1 ? Flux.just(keepalive) : Flux.empty();
    }

    private synchronized Follow reserve(UUID teamId) {
        List<Follow> held = held(teamId);
        refuseWhenFull(held);
        Follow follow = new Follow(teamId);
        open.computeIfAbsent(teamId, t -> new ArrayList<>()).add(follow);
        return follow;
    }

    private synchronized void release(Follow follow) {
        List<Follow> held = open.get(follow.teamId);
        if (held != null && held.remove(follow) && held.isEmpty()) {
            open.remove(follow.teamId);
        }
    }

    /** The team's streams, once those whose answer never began are forgotten; call holding {@code this}. */
    private List<Follow> held(UUID teamId) {
        List<Follow> held = open.get(teamId);
        if (held == null) {
            return List.of();
        }
        Instant now = Instant.now();
        held.removeIf(f -> f.abandoned(now));
        return held;
    }

    private void refuseWhenFull(List<Follow> held) {
        if (held.size() >= maxPerTeam) {
            throw new KeelException(ProblemType.TOO_MANY_FOLLOWS, "Your team has " + held.size() + " log follow streams open on this node,"
                    + " as many as it may (KEEL_LOGS_FOLLOW_MAX_PER_TEAM is " + maxPerTeam + "); end one (a heroku logs --tail, a"
                    + " logs?follow=true request) and ask again, or ask the operator to raise KEEL_LOGS_FOLLOW_MAX_PER_TEAM.")
                    .with("open", held.size()).with("max", maxPerTeam);
        }
    }
}
