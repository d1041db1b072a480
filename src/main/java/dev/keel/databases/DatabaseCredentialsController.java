package dev.keel.databases;

import dev.keel.auth.Caller;
import dev.keel.http.JsonBody;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;
import java.sql.SQLException;
import java.util.List;

/** {@code /v1/databases/{id}/credentials}: list, create, rotate, destroy (Heroku's {@code pg:credentials}). */
@Controller("/v1/databases/{idOrName}/credentials")
@ExecuteOn(TaskExecutors.BLOCKING)
final class DatabaseCredentialsController {
    private final DatabaseCredentials credentials;

    DatabaseCredentialsController(DatabaseCredentials credentials) {
        this.credentials = credentials;
    }

    @Serdeable
    record CreateRequest(@Nullable String name) {
    }

    @Serdeable
    record RotateRequest(@Nullable Boolean force) {
    }

    @Get
    List<DatabaseCredentials.View> list(Caller caller, String idOrName) {
        return credentials.list(caller, idOrName);
    }

    @Post
    @JsonBody
    HttpResponse<DatabaseCredentials.View> create(Caller caller, String idOrName, @Body CreateRequest request) throws SQLException {
        DatabaseCredentials.View view = credentials.create(caller, idOrName, request.name());
        return HttpResponse.created(view, URI.create("/v1/databases/" + idOrName + "/credentials/" + view.name()));
    }

    @Post("/{name}/rotate")
    @JsonBody
    DatabaseCredentials.RotatedView rotate(Caller caller, String idOrName, String name, @Body @Nullable RotateRequest request)
            throws SQLException {
        return credentials.rotate(caller, idOrName, name, request != null && Boolean.TRUE.equals(request.force()));
    }

    @Delete("/{name}")
    HttpResponse<Void> destroy(Caller caller, String idOrName, String name) throws SQLException {
        credentials.destroy(caller, idOrName, name);
        return HttpResponse.noContent();
    }
}
