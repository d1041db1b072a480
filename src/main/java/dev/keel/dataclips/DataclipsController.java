package dev.keel.dataclips;

import dev.keel.auth.Caller;
import dev.keel.http.JsonBody;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;

import java.net.URI;
import java.util.List;

/**
 * {@code /v1/dataclips}: save (and run), list, show, change, delete, refresh, versions. A run
 * that outlasts {@code keel.dataclips.wait} is answered 202 with its result {@code running}.
 */
@Controller("/v1/dataclips")
@ExecuteOn(TaskExecutors.BLOCKING)
final class DataclipsController {
    private final Dataclips dataclips;
    private final DataclipViews views;

    DataclipsController(Dataclips dataclips, DataclipViews views) {
        this.dataclips = dataclips;
        this.views = views;
    }

    @Post
    @JsonBody
    HttpResponse<DataclipView> create(Caller caller, @Body DataclipRequest request) {
        Dataclips.Ran ran = dataclips.create(caller, request);
        return HttpResponse.<DataclipView>status(ran.result().finished() ? HttpStatus.CREATED : HttpStatus.ACCEPTED)
                .headers(h -> h.location(URI.create("/v1/dataclips/" + ran.clip().id())))
                .body(views.of(ran.clip(), ran.result()));
    }

    @Get
    List<DataclipView> list(Caller caller) {
        return dataclips.list(caller).stream().map(clip -> views.of(clip, dataclips.newest(clip).orElse(null))).toList();
    }

    @Get("/{id}")
    DataclipView show(Caller caller, String id) {
        Dataclip clip = dataclips.require(caller, id);
        return views.of(clip, dataclips.newest(clip).orElse(null));
    }

    @Patch("/{id}")
    @JsonBody
    HttpResponse<DataclipView> update(Caller caller, String id, @Body DataclipRequest request) {
        Dataclips.Ran ran = dataclips.update(caller, id, request);
        boolean running = ran.result() != null && !ran.result().finished();
        return HttpResponse.<DataclipView>status(running ? HttpStatus.ACCEPTED : HttpStatus.OK).body(views.of(ran.clip(), ran.result()));
    }

    @Delete("/{id}")
    HttpResponse<Void> delete(Caller caller, String id) {
        dataclips.delete(caller, id);
        return HttpResponse.noContent();
    }

    /** Runs the clip again; the query string gives parameter values ({@code ?start_date=2026-01-01}). */
    @Post("/{id}/refresh")
    HttpResponse<DataclipView.ResultView> refresh(Caller caller, String id, HttpRequest<?> request) {
        Dataclips.Ran ran = dataclips.refresh(caller, id, QueryValues.of(request));
        return HttpResponse.<DataclipView.ResultView>status(ran.result().finished() ? HttpStatus.OK : HttpStatus.ACCEPTED)
                .body(views.of(ran.result()));
    }

    @Get("/{id}/versions")
    List<DataclipView.VersionView> versions(Caller caller, String id) {
        return dataclips.versions(caller, id).stream()
                .map(e -> new DataclipView.VersionView(e.getKey().number(), e.getKey().sql(), e.getKey().createdAt(),
                        e.getValue().stream().map(views::of).toList()))
                .toList();
    }
}
