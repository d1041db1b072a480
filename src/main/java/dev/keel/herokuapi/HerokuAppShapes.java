package dev.keel.herokuapi;

import dev.keel.apps.App;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * Keel's apps as Heroku's Platform API shows apps. Keel runs no code, so an app has no stack,
 * region, slug or git repository: those fields say so ({@code none}, {@code local}, 0),
 * and its {@code web_url} is its resource in Keel's own API. The owner is the caller's team.
 */
final class HerokuAppShapes {
    static final String NONE = "none";
    static final String REGION = "local";

    private HerokuAppShapes() {
    }

    @Serdeable
    record Owner(UUID id, String email) {
    }

    @Serdeable
    record HerokuApp(UUID id, String name, OffsetDateTime createdAt, OffsetDateTime updatedAt, @Nullable OffsetDateTime releasedAt,
                     Owner owner, HerokuShapes.Named region, HerokuShapes.Named stack, HerokuShapes.Named buildStack,
                     HerokuShapes.Named generation, String webUrl, String gitUrl, long repoSize, long slugSize, boolean acm,
                     boolean maintenance, boolean internalRouting, String createStatus, @Nullable Object space,
                     @Nullable HerokuShapes.Named team, @Nullable String buildpackProvidedDescription, @Nullable OffsetDateTime archivedAt) {
    }

    @Serdeable
    record Account(UUID id, String email, String name, boolean verified, boolean twoFactorAuthentication, OffsetDateTime createdAt) {
    }

    static HerokuApp app(App app, Owner owner, String baseUrl) {
        HerokuShapes.Named none = named(NONE);
        return new HerokuApp(app.id(), app.name(), app.createdAt(), app.createdAt(), null, owner, named(REGION), none, none,
                named("cedar"), baseUrl + "/v1/apps/" + app.name(), NONE, 0, 0, false, false, false, "complete", null,
                new HerokuShapes.Named(owner.id(), owner.email()), null, null);
    }

    private static HerokuShapes.Named named(String name) {
        return new HerokuShapes.Named(UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)), name);
    }
}
