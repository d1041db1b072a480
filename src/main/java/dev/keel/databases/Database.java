package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;

import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * One managed Postgres. {@code pgDatabase} is the database's name inside its server;
 * {@code stateReason} says why it {@code failed}, {@code stateCode} is that failure's stable
 * code (a problem type's slug) and {@code stateRetryable} whether creating it again can help; {@code leaderId} is the database a follower
 * streams from, while it follows.
 */
public record Database(UUID id, UUID teamId, String name, String plan, int major, String pgDatabase, DatabaseState state,
                       @Nullable String stateReason, @Nullable String stateCode, @Nullable Boolean stateRetryable,
                       @Nullable UUID leaderId, OffsetDateTime createdAt, OffsetDateTime updatedAt) {
    /** Whether this is a follower: read-only, streaming from its leader, archived by its leader only. */
    public boolean following() {
        return leaderId != null;
    }

    /** The database whose credentials this one serves: a follower replays its leader's roles, any other has its own. */
    public UUID credentialsOwner() {
        return following() ? leaderId : id;
    }
}
