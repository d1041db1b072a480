package dev.keel.auth;

import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.util.List;

/** {@code /v1/teams}: the admin key creates teams, each answered with its first API key. */
@Controller("/v1/teams")
@ExecuteOn(TaskExecutors.BLOCKING)
final class TeamsController {
    private final Teams teams;

    TeamsController(Teams teams) {
        this.teams = teams;
    }

    @Serdeable
    record CreateRequest(@Nullable String name) {
    }

    @Serdeable
    record Created(Teams.Team team, ApiKeysController.View apiKey) {
    }

    @Post
    @JsonBody
    HttpResponse<Created> create(Caller caller, @Body CreateRequest request) {
        if (!caller.admin()) {
            throw new KeelException(ProblemType.FORBIDDEN, "Only the installation's admin API key can create teams.");
        }
        Teams.Created created = teams.create(request.name());
        return HttpResponse.created(new Created(created.team(), ApiKeysController.View.of(created.key().key(), created.key().plaintext())));
    }

    @Get
    List<Teams.Team> list(Caller caller) {
        return teams.list(caller);
    }
}
