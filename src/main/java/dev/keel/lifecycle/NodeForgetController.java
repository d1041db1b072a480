package dev.keel.lifecycle;

import dev.keel.auth.Caller;
import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

/**
 * {@code POST /v1/nodes/{name}/forget {"confirm": name}}, for the installation's admin key only:
 * node {@code name}, lost, is gone for good; the primaries it hosted are made anew elsewhere from
 * their archives ({@link NodeForgetting}).
 */
@Controller("/v1/nodes/{name}/forget")
@ExecuteOn(TaskExecutors.BLOCKING)
final class NodeForgetController {
    private final NodeForgetting forgetting;

    NodeForgetController(NodeForgetting forgetting) {
        this.forgetting = forgetting;
    }

    @Serdeable
    record Request(@Nullable String confirm) {
    }

    @Post
    @JsonBody
    NodeForgetting.Forgotten forget(Caller caller, String name, @Body @Nullable Request request) {
        if (!caller.admin()) {
            throw new KeelException(ProblemType.FORBIDDEN, "Only the installation's admin API key can see and steer nodes.");
        }
        return forgetting.forget(name, request == null ? null : request.confirm());
    }
}
