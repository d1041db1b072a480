package dev.keel.databases;

import dev.keel.instances.Instance;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * A database as the API shows it. {@code url} (the default credential's connection URL) is set
 * once the database is {@code available}; {@code progress} while an operation runs on it. A
 * follower names its leader in {@code following}, with its lag ({@code lagBytes},
 * {@code lagSeconds}, {@code replication} saying whether it streams); a leader lists its
 * {@code followers}. {@code ha} is the HA status on plans with a standby; {@code failoverUrl}
 * (libpq) and {@code failoverJdbcUrl} (pgjdbc) list the primary and the standby, for clients that
 * follow a failover by themselves. {@code instances} are its servers, each with the node that
 * hosts it.
 */
@Serdeable
public record DatabaseView(UUID id, String name, String plan, String version, String state, @Nullable String stateReason,
                           @Nullable String stateCode, @Nullable Boolean stateRetryable,
                           @Nullable Progress progress, @Nullable String url, @Nullable String failoverUrl,
                           @Nullable String failoverJdbcUrl, @Nullable Origin origin, @Nullable Ref following,
                           @Nullable Long lagBytes, @Nullable Double lagSeconds, @Nullable String replication, List<Ref> followers, @Nullable String ha,
                           List<InstanceRef> instances, OffsetDateTime createdAt, OffsetDateTime updatedAt) {

    /** One of the database's servers: its role, its state and the Keel node that hosts it (null until a node claims an old row). */
    @Serdeable
    public record InstanceRef(UUID id, String role, String state, @Nullable String node) {
        public static InstanceRef of(Instance instance) {
            return new InstanceRef(instance.id(), instance.role().value(), instance.state().value(), instance.node());
        }
    }

    /** Another database, by id and name. */
    @Serdeable
    public record Ref(UUID id, String name) {
        public static Ref of(Database database) {
            return new Ref(database.id(), database.name());
        }
    }

    /**
     * Where a fork or rollback came from: {@code to} is a rollback's target; {@code asOf} is when
     * a fast fork's data is from (its base backup), with its age when it was asked for.
     */
    @Serdeable
    public record Origin(String kind, UUID databaseId, String databaseName, @Nullable Instant to,
                         @Nullable Instant asOf, @Nullable Long ageSeconds, String description) {
        public static Origin of(DatabaseOrigin origin, OffsetDateTime requestedAt) {
            return new Origin(origin.kind().value(), origin.sourceId(), origin.sourceName(), origin.targetTime(),
                    origin.fast() ? origin.backupFinishedAt() : null,
                    origin.fast() ? Duration.between(origin.backupFinishedAt(), requestedAt.toInstant()).toSeconds() : null,
                    origin.describe());
        }
    }

    /** The running operation on the database: at {@code step}, {@code done} of {@code total} {@code unit}s. */
    @Serdeable
    public record Progress(UUID operationId, String kind, @Nullable String step, long done, long total, String unit) {
    }
}
