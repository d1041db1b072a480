package dev.keel.auth;

import dev.keel.Ids;
import dev.keel.http.JsonBody;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Status;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;
import org.jooq.DSLContext;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/** {@code /v1/api-keys}: the keys of the caller's team. */
@Controller("/v1/api-keys")
@ExecuteOn(TaskExecutors.BLOCKING)
final class ApiKeysController {
    private final ApiKeys apiKeys;
    private final DSLContext dsl;

    ApiKeysController(ApiKeys apiKeys, DSLContext dsl) {
        this.apiKeys = apiKeys;
        this.dsl = dsl;
    }

    @Serdeable
    record CreateRequest(@Nullable String name) {
    }

    /** A key as shown; {@code key} is the plaintext, present only in the answer that creates it. */
    @Serdeable
    record View(UUID id, String name, String hint, boolean admin, OffsetDateTime createdAt, @Nullable OffsetDateTime lastUsedAt,
                @Nullable String key) {
        static View of(ApiKey k, @Nullable String plaintext) {
            return new View(k.id(), k.name(), k.hint(), k.admin(), k.createdAt(), k.lastUsedAt(), plaintext);
        }
    }

    @Post
    @JsonBody
    HttpResponse<View> create(Caller caller, @Body @Nullable CreateRequest request) {
        String name = request == null || request.name() == null || request.name().isBlank() ? "unnamed" : request.name().strip();
        if (name.length() > 100) {
            throw new KeelException(ProblemType.INVALID_NAME, "An API key's name is at most 100 characters; this one has " + name.length() + ".");
        }
        ApiKeys.Created created = apiKeys.create(dsl, caller.teamId(), name, false);
        return HttpResponse.created(View.of(created.key(), created.plaintext()));
    }

    @Get
    List<View> list(Caller caller) {
        return apiKeys.list(caller.teamId()).stream().map(k -> View.of(k, null)).toList();
    }

    @Delete("/{id}")
    @Status(HttpStatus.NO_CONTENT)
    void revoke(Caller caller, String id) {
        UUID key = Ids.parse(id).orElseThrow(() -> KeelException.notFound("API key", id));
        // Any key of the admin's team sees the admin key's id; only the admin key itself may revoke it.
        if (!caller.admin() && apiKeys.find(dsl, caller.teamId(), key).filter(ApiKey::admin).isPresent()) {
            throw new KeelException(ProblemType.FORBIDDEN, "Only the installation's admin API key can revoke itself.");
        }
        apiKeys.revoke(caller.teamId(), key);
    }
}
