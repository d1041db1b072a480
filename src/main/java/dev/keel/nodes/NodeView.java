package dev.keel.nodes;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/**
 * A node as {@code GET /v1/nodes} shows it: where its API is, what it runs, whether it takes new
 * instances ({@code state}; {@code forgottenAt} is when an operator last forgot it), what it may
 * place into ({@code capacity}) and what it hosts.
 */
@Serdeable
public record NodeView(String name, @Nullable String address, String version, String state, OffsetDateTime lastHeartbeat,
                       long heartbeatAgeSeconds, OffsetDateTime startedAt, @Nullable OffsetDateTime drainedAt,
                       @Nullable OffsetDateTime forgottenAt, Capacity capacity,
                       List<HostedInstance> instances) {

    /**
     * The instance port range with how many of its ports no instance of the node holds; the
     * node's memory budget and what its instances count for by plan; its disk budget, and the
     * free and used space its last heartbeat read (null before a heartbeat of this version).
     */
    @Serdeable
    public record Capacity(Ports ports, long memoryBudgetMb, long memoryReservedMb, long diskBudgetMb, @Nullable Long diskFreeMb,
                           @Nullable Long diskUsedMb) {
    }

    @Serdeable
    public record Ports(String range, int total, int free) {
    }

    /** An instance the node hosts; {@code database} is null for a warm-pool instance. */
    @Serdeable
    public record HostedInstance(UUID id, @Nullable UUID databaseId, @Nullable String database, String role, String state) {
    }
}
