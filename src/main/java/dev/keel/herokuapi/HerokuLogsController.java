package dev.keel.herokuapi;

import dev.keel.apps.Attachment;
import dev.keel.apps.Attachments;
import dev.keel.auth.Caller;
import dev.keel.databases.Database;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.ServerLog;
import dev.keel.instances.ServerLogs;
import dev.keel.logs.HostedLogs;
import dev.keel.logs.LogFollowing;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.sse.Event;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * {@code heroku logs -a APP [-n N] [--tail] [-p postgres]}: the server logs of the app's attached
 * databases. The CLI asks for a log session and reads the URL Keel answers with as server-sent
 * events: the last lines of each database's log, then (with {@code --tail}) new lines as they
 * are written, for up to {@code keel.logs.follow-for} (an hour, as Heroku's), and only while the
 * API key that made the session is not revoked; a tail counts against the team's follow streams
 * ({@link LogFollowing}). Keel runs no dynos, so {@code postgres} is the only process type and
 * {@code app} the only source.
 */
@Controller
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuLogsController {
    static final int MAX_LINES = 1500;
    private static final int DEFAULT_LINES = 100;

    private final Attachments attachments;
    private final HerokuAddons addons;
    private final HerokuLogSessions sessions;
    private final InstanceRepository instances;
    private final HostedLogs logs;
    private final LogFollowing following;

    HerokuLogsController(Attachments attachments, HerokuAddons addons, HerokuLogSessions sessions, InstanceRepository instances,
                         HostedLogs logs, LogFollowing following) {
        this.following = following;
        this.attachments = attachments;
        this.addons = addons;
        this.sessions = sessions;
        this.instances = instances;
        this.logs = logs;
    }

    @Serdeable
    record LogSessionRequest(@Nullable String dyno, @Nullable String type, @Nullable Integer lines, @Nullable Boolean tail,
                             @Nullable String source) {
    }

    @Serdeable
    record LogSession(UUID id, String logplexUrl, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
    }

    @Post("/apps/{app}/log-sessions")
    @Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
    HttpResponse<LogSession> create(Caller caller, HttpRequest<?> request, String app, @Body @Nullable LogSessionRequest given) {
        LogSessionRequest body = given == null ? new LogSessionRequest(null, null, null, null, null) : given; // {} or none: the defaults
        attachments.list(caller, app); // the app must exist
        String process = body.dyno() != null ? body.dyno() : body.type();
        if (process != null && !process.equals("postgres") && !process.startsWith("postgres.")) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "Keel runs no dynos: the logs here are the server logs of the app's"
                    + " attached databases, process type postgres; use -p postgres, or no -p.");
        }
        if (body.source() != null && !body.source().equals("app")) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "The logs here are the attached databases' server logs, source app;"
                    + " Keel has no router or platform (heroku) logs.");
        }
        if (body.lines() != null && body.lines() < 0) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"lines\" is how many lines to show first (-n), 0 to " + MAX_LINES
                    + "; more are cut to " + MAX_LINES + ", as Heroku does.");
        }
        int lines = body.lines() == null ? DEFAULT_LINES : Math.max(1, Math.min(MAX_LINES, body.lines()));
        boolean tail = Boolean.TRUE.equals(body.tail());
        if (tail) {
            following.requireRoom(caller); // refused here, the CLI shows why; the stream counts once it opens
        }
        String token = sessions.token(caller, app, lines, tail);
        OffsetDateTime now = OffsetDateTime.now();
        return HttpResponse.created(new LogSession(UUID.randomUUID(), HerokuRequests.baseUrl(request) + "/log-sessions/" + token, now, now));
    }

    @Get(value = "/log-sessions/{token}", produces = MediaType.TEXT_EVENT_STREAM)
    Publisher<Event<String>> stream(String token) {
        HerokuLogSessions.Session session = sessions.open(token);
        Caller caller = session.caller();
        List<Source> sources = new ArrayList<>();
        List<Attachment> ofApp = attachments.list(caller, session.app());
        for (Database database : addons.ofApp(caller, session.app())) {
            String name = ofApp.stream().filter(a -> a.databaseId().equals(database.id())).map(Attachment::name)
                    .min(Comparator.comparing(n -> !n.equals("DATABASE"))).orElse(database.name());
            sources.add(new Source(database.id(), new HerokuLogLines(name)));
        }
        Flux<Event<String>> first = Flux.fromIterable(sources).concatMap(s -> events(s.first(session.lines())));
        if (!session.tail()) {
            return first;
        }
        // A comment now and then keeps a quiet stream open through idle timeouts; event sources ignore it.
        return following.follow(caller, first, tick -> Flux.fromIterable(sources).concatMap(s -> events(s.next())),
                Event.of("").comment("keepalive"));
    }

    private Flux<Event<String>> events(Callable<List<String>> read) {
        // A log on a node that does not answer now is skipped, not the end of the stream: the other databases' logs go on.
        Callable<List<String>> tolerant = () -> {
            try {
                return read.call();
            } catch (KeelException unavailable) {
                return List.of();
            }
        };
        return Mono.fromCallable(tolerant).subscribeOn(Schedulers.boundedElastic())
                .flatMapMany(lines -> lines.isEmpty() ? Flux.empty() : Flux.just(Event.of(String.join("\n", lines))));
    }

    /** One attached database's log as a stream reads it: where its server's log was read up to. */
    private final class Source {
        private final UUID databaseId;
        private final HerokuLogLines format;
        private UUID instanceId;
        private long position;

        Source(UUID databaseId, HerokuLogLines format) {
            this.databaseId = databaseId;
            this.format = format;
        }

        Callable<List<String>> first(int lines) {
            return () -> instances.primary(databaseId).map(server -> {
                ServerLogs.Lines read = ServerLogs.tail(logs.of(server), lines);
                instanceId = server.id();
                position = read.end();
                return read.lines().stream().map(ServerLog::redacted).map(format::format).toList();
            }).orElse(List.of());
        }

        /** Lines written since the last read; a server that changed (a failover) is read from its end on. */
        Callable<List<String>> next() {
            return () -> instances.primary(databaseId).map(server -> {
                if (!server.id().equals(instanceId)) {
                    long end = ServerLogs.tail(logs.of(server), 0).end(); // first: a read that fails changes nothing
                    instanceId = server.id();
                    position = end;
                    return List.<String>of();
                }
                ServerLogs.Lines read = ServerLogs.since(logs.of(server), position);
                position = read.end();
                return read.lines().stream().map(ServerLog::redacted).map(format::format).toList();
            }).orElse(List.of());
        }
    }
}
