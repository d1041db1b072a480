package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.databases.Accepted;
import dev.keel.databases.CreateDatabaseRequest;
import dev.keel.databases.DatabaseView;
import dev.keel.http.JsonBody;
import dev.keel.http.QueryFlag;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Patch;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.QueryValue;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;

/**
 * {@code /v1/databases} changes: provision (plain, fork, rollback, follower), plan change,
 * deprovision, unfollow. Long work answers 202; the body is the database as {@code GET} shows it.
 */
@Controller("/v1/databases")
@ExecuteOn(TaskExecutors.BLOCKING)
final class DatabaseLifecycleController {
    private final DatabaseCreate create;
    private final DatabaseDelete delete;
    private final DatabaseViews views;
    private final DatabaseUnfollow unfollow;
    private final DatabasePlanChange planChange;

    DatabaseLifecycleController(DatabaseCreate create, DatabaseDelete delete, DatabaseViews views, DatabaseUnfollow unfollow,
                                DatabasePlanChange planChange) {
        this.planChange = planChange;
        this.unfollow = unfollow;
        this.create = create;
        this.delete = delete;
        this.views = views;
    }

    @Post
    @JsonBody
    HttpResponse<DatabaseView> create(Caller caller, @Body CreateDatabaseRequest request) {
        Accepted accepted = create.accept(caller, request);
        return HttpResponse.accepted(URI.create("/v1/databases/" + accepted.database().id())).body(views.of(accepted.database()));
    }

    @Serdeable
    record Change(@Nullable String plan) {
    }

    /** A plan change: 202 with the operation applying it, or 200 when the database is on that plan already. */
    @Patch("/{idOrName}")
    @JsonBody
    HttpResponse<DatabaseView> change(Caller caller, String idOrName, @Body Change request) {
        DatabasePlanChange.Changed changed = planChange.accept(caller, idOrName, request.plan());
        return (changed.operation().isPresent() ? HttpResponse.<DatabaseView>accepted() : HttpResponse.<DatabaseView>ok())
                .body(views.of(changed.database(), changed.operation().orElse(null)));
    }

    @Delete("/{idOrName}")
    HttpResponse<DatabaseView> delete(Caller caller, String idOrName, @QueryValue("unfollow_followers") @Nullable String unfollowFollowers) {
        boolean unfollow = QueryFlag.parse("unfollow_followers", unfollowFollowers);
        return HttpResponse.accepted().body(views.of(delete.accept(caller, idOrName, unfollow).database()));
    }

    @Post("/{idOrName}/unfollow")
    HttpResponse<DatabaseView> unfollow(Caller caller, String idOrName) {
        return HttpResponse.accepted().body(views.of(unfollow.accept(caller, idOrName).database()));
    }
}
