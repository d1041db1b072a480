package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * {@code POST /v1/databases}. {@code version} is a major, as a number or a string ("16").
 * A new database may be made from another: {@code fork} (as of now, or with {@code fast} as of
 * its newest base backup) or {@code rollback} with {@code to} (RFC 3339) or {@code by} ("2 hours
 * 10 minutes"). Unknown fields are ignored.
 */
@Serdeable
public record CreateDatabaseRequest(@Nullable String plan, @Nullable String name, @Nullable Object version, @Nullable String fork,
                                    @Nullable String rollback, @Nullable String follow, @Nullable String to, @Nullable String by,
                                    @Nullable Boolean fast) {
    public CreateDatabaseRequest(@Nullable String plan, @Nullable String name, @Nullable Object version) {
        this(plan, name, version, null, null, null, null, null, null);
    }

    /** Whether the request makes the database from another one. */
    public boolean copies() {
        return fork != null || rollback != null || follow != null;
    }
}
