package dev.keel.apps;

import dev.keel.auth.Caller;
import dev.keel.databases.DatabaseLookup;
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
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.micronaut.serde.annotation.Serdeable;

import java.net.URI;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** {@code /v1/apps}: apps, their attachments and their config vars. */
@Controller("/v1/apps")
@ExecuteOn(TaskExecutors.BLOCKING)
final class AppsController {
    private final Apps apps;
    private final Attachments attachments;
    private final ConfigVars configVars;
    private final DatabaseLookup databases;

    AppsController(Apps apps, Attachments attachments, ConfigVars configVars, DatabaseLookup databases) {
        this.databases = databases;
        this.apps = apps;
        this.attachments = attachments;
        this.configVars = configVars;
    }

    @Serdeable
    record CreateApp(@Nullable String name) {
    }

    @Serdeable
    record Attach(@Nullable String database, @Nullable String as, @Nullable String credential, @Nullable Boolean pooled,
                  @Nullable String url) {
    }

    @Serdeable
    record AppView(UUID id, String name, OffsetDateTime createdAt) {
        static AppView of(App app) {
            return new AppView(app.id(), app.name(), app.createdAt());
        }
    }

    @Serdeable
    record AttachmentView(UUID id, String name, String app, UUID databaseId, String credential, String configVar, OffsetDateTime createdAt,
                          boolean pooled, String url) {
        static AttachmentView of(Attachment a) {
            return new AttachmentView(a.id(), a.name(), a.appName(), a.databaseId(), a.credential(), a.configVar(), a.createdAt(),
                    a.pooled(), a.failover() ? "failover" : "primary");
        }
    }

    @Post
    @JsonBody
    HttpResponse<AppView> create(Caller caller, @Body CreateApp request) {
        App app = apps.create(caller, request.name());
        return HttpResponse.created(AppView.of(app), URI.create("/v1/apps/" + app.name()));
    }

    @Get
    List<AppView> list(Caller caller) {
        return apps.list(caller).stream().map(AppView::of).toList();
    }

    @Get("/{app}")
    AppView show(Caller caller, String app) {
        return AppView.of(apps.require(caller, app));
    }

    @Delete("/{app}")
    HttpResponse<Void> delete(Caller caller, String app) {
        apps.delete(caller, app);
        return HttpResponse.noContent();
    }

    @Post("/{app}/attachments")
    @JsonBody
    HttpResponse<AttachmentView> attach(Caller caller, String app, @Body Attach request) throws SQLException, InterruptedException {
        boolean failover = Attachments.failoverForm(request.url());
        if (failover && Boolean.TRUE.equals(request.pooled())) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "A pooled attachment reaches the database through its one pooler, a"
                    + " single server; ask for \"pooled\" or for \"url\": \"failover\", not both.");
        }
        Attachments.Attached attached = Boolean.TRUE.equals(request.pooled())
                ? attachments.attachPooled(caller, app, databases.require(caller, request.database() == null ? "" : request.database()),
                        request.as(), request.credential())
                : attachments.attach(caller, app, request.database(), request.as(), request.credential(), failover);
        return HttpResponse.<AttachmentView>status(attached.created() ? HttpStatus.CREATED : HttpStatus.OK)
                .body(AttachmentView.of(attached.attachment()));
    }

    @Get("/{app}/attachments")
    List<AttachmentView> attachments(Caller caller, String app) {
        return attachments.list(caller, app).stream().map(AttachmentView::of).toList();
    }

    @Delete("/{app}/attachments/{name}")
    HttpResponse<Void> detach(Caller caller, String app, String name) {
        attachments.detach(caller, app, name);
        return HttpResponse.noContent();
    }

    @Get("/{app}/config-vars")
    Map<String, String> configVars(Caller caller, String app) {
        return configVars.of(caller, app);
    }
}
