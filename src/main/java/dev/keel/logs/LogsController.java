package dev.keel.logs;

import dev.keel.auth.Caller;
import dev.keel.http.QueryFlag;
import dev.keel.instances.LogSource;
import dev.keel.instances.ServerLog;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.http.sse.Event;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import reactor.core.publisher.Flux;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code GET /v1/databases/{id}/logs?lines&since&level&instance}: the newest entries of a
 * server's log as JSON; with {@code follow=true}, those entries and then each new one as it is
 * written, as server-sent events ({@code event: log}, the entry as JSON), until the client
 * closes the stream, {@code keel.logs.follow-for} (an hour) has passed, as Heroku ends a tail
 * after an hour (a client that wants more asks again with {@code since}), or the API key it was
 * opened with is revoked. A team holds at most {@code keel.logs.follow-max-per-team} at once
 * ({@link LogFollowing}).
 */
@Controller("/v1/databases/{database}/logs")
@ExecuteOn(TaskExecutors.BLOCKING)
final class LogsController {
    private final DatabaseLogs logs;
    private final ServerLog serverLog;
    private final HostedLogs hosted;
    private final LogFollowing following;

    LogsController(DatabaseLogs logs, ServerLog serverLog, HostedLogs hosted, LogFollowing following) {
        this.following = following;
        this.logs = logs;
        this.serverLog = serverLog;
        this.hosted = hosted;
    }

    /** The answer: which database and server, and its entries, oldest first. */
    @Serdeable
    record Logs(UUID databaseId, String database, UUID instanceId, String role, List<ServerLog.Entry> lines) {
    }

    @Get(produces = {MediaType.APPLICATION_JSON, MediaType.TEXT_EVENT_STREAM})
    @ApiResponse(responseCode = "200", content = {
            @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = Logs.class)),
            @Content(mediaType = MediaType.TEXT_EVENT_STREAM, schema = @Schema(type = "string",
                    description = "with follow=true: event 'log', data an entry as JSON"))})
    HttpResponse<?> logs(Caller caller, String database, @QueryValue @Nullable Integer lines, @QueryValue @Nullable String since,
                         @QueryValue @Nullable String level, @QueryValue @Nullable String instance, @QueryValue @Nullable String follow) {
        DatabaseLogs.Source source = logs.source(caller, database, instance);
        ServerLog.Filter filter = DatabaseLogs.filter(since, level);
        LogSource log = hosted.of(source.instance());
        ServerLog.Page page = serverLog.tail(log, DatabaseLogs.lines(lines), filter);
        if (!QueryFlag.parse("follow", follow)) {
            return HttpResponse.ok(new Logs(source.database().id(), source.database().name(), source.instance().id(),
                    source.instance().role().value(), page.entries()));
        }
        AtomicLong position = new AtomicLong(page.position());
        Flux<Event<?>> stream = following.follow(caller, Flux.fromIterable(page.entries()).map(LogsController::event),
                tick -> {
                    ServerLog.Page next = serverLog.after(log, position.get(), filter);
                    position.set(next.position());
                    return Flux.fromIterable(next.entries()).map(LogsController::event);
                }, Event.of((Object) "").comment("keepalive")); // an SSE comment, which event sources ignore
        return HttpResponse.ok(stream).contentType(MediaType.TEXT_EVENT_STREAM_TYPE);
    }

    private static Event<?> event(ServerLog.Entry entry) {
        return Event.of((Object) entry).name("log");
    }
}
