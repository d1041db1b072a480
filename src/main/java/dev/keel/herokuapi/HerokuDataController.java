package dev.keel.herokuapi;

import dev.keel.apps.ConfigVars;
import dev.keel.auth.Caller;
import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credential;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseCredentials;
import dev.keel.databases.DatabaseInfo;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.DatabaseState;
import dev.keel.lifecycle.DatabaseUnfollow;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import dev.keel.problems.KeelException;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Body;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Delete;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.annotation.Put;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.sql.SQLException;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The Data API calls of {@code heroku pg:info}, {@code pg:wait}, {@code pg:unfollow} and
 * {@code pg:credentials*}. A database is named by its id or its name, as the CLI uses both.
 */
@Controller
@Produces({MediaType.APPLICATION_JSON, HerokuAddonsController.HEROKU_JSON})
@ExecuteOn(TaskExecutors.BLOCKING)
final class HerokuDataController {
    private final HerokuAddons addons;
    private final DatabaseInfo info;
    private final DatabaseLookup databases;
    private final DatabaseUnfollow unfollow;
    private final DatabaseCredentials credentials;
    private final ConfigVars configVars;
    private final OperationRepository operations;

    HerokuDataController(HerokuAddons addons, DatabaseInfo info, DatabaseLookup databases, DatabaseUnfollow unfollow,
                         DatabaseCredentials credentials, ConfigVars configVars, OperationRepository operations) {
        this.addons = addons;
        this.info = info;
        this.databases = databases;
        this.unfollow = unfollow;
        this.credentials = credentials;
        this.configVars = configVars;
        this.operations = operations;
    }

    @Serdeable
    record Info(UUID addonId, String name, String plan, @Nullable String resourceUrl, @Nullable String following,
                @Nullable String leader, List<DatabaseInfo.Line> info) {
    }

    @Serdeable
    record Login(String user, String password, String state, @Nullable Integer connections) {
    }

    @Serdeable
    record CredentialInfo(String uuid, String name, String state, String database, String host, int port, List<Login> credentials) {
    }

    @Serdeable
    record NameRequest(@Nullable String name) {
    }

    @Serdeable
    record RotateRequest(@Nullable Boolean forced) {
    }

    @Serdeable
    record Message(String message) {
    }

    @Get("/client/v11/databases/{addon}")
    Info info(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        String leader = database.following() ? databases.find(database.leaderId()).map(Database::name).orElse(null) : null;
        String leaderUrl = database.following() ? url(database.leaderId(), Credential.DEFAULT) : null;
        return new Info(database.id(), database.name(), database.plan(), url(database.id(), Credential.DEFAULT), leaderUrl, leader,
                info.of(database).info());
    }

    /** {@code pg:wait}: waiting while the database is being made or an operation changes it; an error once it failed. */
    @Get("/client/v11/databases/{addon}/wait_status")
    Map<String, Object> waitStatus(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        Optional<String> busy = operations.running(database.id(), EnumSet.of(OperationKind.PROVISION, OperationKind.RESTORE,
                OperationKind.UNFOLLOW, OperationKind.PLAN_CHANGE)).map(op -> op.step() == null ? op.kind().value() : op.step());
        Map<String, Object> status = new LinkedHashMap<>();
        boolean failed = database.state() == DatabaseState.FAILED || database.state() == DatabaseState.DELETING;
        status.put("waiting?", !failed && (database.state() == DatabaseState.CREATING || busy.isPresent()));
        status.put("error?", failed);
        status.put("message", failed ? (database.stateReason() == null ? database.state().value() : database.stateReason())
                : busy.orElse(database.state() == DatabaseState.AVAILABLE ? "Available" : database.state().value()));
        return status;
    }

    @Put("/client/v11/databases/{addon}/unfollow")
    Message unfollow(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        unfollow.accept(caller, database.id().toString());
        return new Message(database.name() + " is being unfollowed.");
    }

    @Get("/postgres/v0/databases/{addon}/credentials")
    List<CredentialInfo> credentials(Caller caller, String addon) {
        Database database = addons.database(caller, addon);
        return credentials.list(caller, database.id().toString()).stream().map(c -> credential(database, c.name(), c.state()))
                .flatMap(Optional::stream).toList();
    }

    @Get("/postgres/v0/databases/{addon}/credentials/{name}")
    CredentialInfo credential(Caller caller, String addon, String name) {
        Database database = addons.database(caller, addon);
        return credentials.list(caller, database.id().toString()).stream().filter(c -> c.name().equals(name)).findFirst()
                .flatMap(c -> credential(database, c.name(), c.state()))
                .orElseThrow(() -> KeelException.notFound("credential", name));
    }

    @Post("/postgres/v0/databases/{addon}/credentials")
    HttpResponse<Message> create(Caller caller, String addon, @Body NameRequest request) throws SQLException {
        Database database = addons.database(caller, addon);
        DatabaseCredentials.View created = credentials.create(caller, database.id().toString(), request.name());
        return HttpResponse.created(new Message("Credential " + created.name() + " created."));
    }

    @Delete("/postgres/v0/databases/{addon}/credentials/{name}")
    Message destroy(Caller caller, String addon, String name) throws SQLException {
        credentials.destroy(caller, addons.database(caller, addon).id().toString(), name);
        return new Message("Credential " + name + " destroyed.");
    }

    @Post("/postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation")
    Message rotate(Caller caller, String addon, String name, @Body @Nullable RotateRequest request) throws SQLException {
        credentials.rotate(caller, addons.database(caller, addon).id().toString(), name, forced(request));
        return new Message("Credential " + name + " rotated.");
    }

    @Post("/postgres/v0/databases/{addon}/credentials_rotation")
    Message rotateAll(Caller caller, String addon, @Body @Nullable RotateRequest request) throws SQLException {
        Database database = addons.database(caller, addon);
        for (DatabaseCredentials.View credential : credentials.list(caller, database.id().toString())) {
            credentials.rotate(caller, database.id().toString(), credential.name(), forced(request));
        }
        return new Message("Every credential of " + database.name() + " rotated.");
    }

    private static boolean forced(@Nullable RotateRequest request) {
        return request != null && Boolean.TRUE.equals(request.forced());
    }

    private Optional<CredentialInfo> credential(Database database, String name, String state) {
        return configVars.url(database.id(), name).map(u -> new CredentialInfo(database.id() + ":" + name, name, state, u.database(),
                u.host(), u.port(), List.of(new Login(u.user(), u.password(), "active", null))));
    }

    @Nullable
    private String url(UUID databaseId, String credential) {
        return configVars.url(databaseId, credential).map(ConnectionUrl::toString).orElse(null);
    }
}
