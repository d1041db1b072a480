package dev.keel.lifecycle;

import io.micronaut.core.annotation.Nullable;

import java.time.Instant;
import java.util.UUID;

/** A requested major-version upgrade of a database (or a dry run of one on a throw-away copy) and how it went. */
public record Upgrade(UUID id, UUID databaseId, @Nullable UUID operationId, int fromMajor, int toMajor, UpgradeState state, boolean dryRun,
                      @Nullable UUID copyId, @Nullable Long writePauseMillis, @Nullable String message, Instant createdAt,
                      @Nullable Instant finishedAt) {
}
