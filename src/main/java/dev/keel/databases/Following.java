package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

/**
 * Replication as this package needs it, which the replication capability provides: how far
 * behind its leader a follower is and the HA status (for {@link DatabaseViews}), and a follower's
 * settings applied again (for {@link DatabaseSettings}, whose change of a follower's settings is
 * applied by replication).
 */
public interface Following {
    /** How far {@code follower} is behind its leader now (asked of the leader's server). */
    Lag lag(Database follower);

    /** The HA status of {@code database} ("Available", or why not), or null for a database on a plan without HA. */
    @Nullable
    String haStatus(Database database);

    /** Applies a follower's settings again (after its plan, its leader's plan or its own settings changed); it keeps streaming. */
    void reconfigure(Database follower) throws Exception;

    /**
     * A follower's lag: {@code bytes} of WAL its leader has written that it has not replayed, and
     * {@code seconds} that replay is behind (0 when it has caught up); both null when unknown,
     * with {@code status} saying why ("streaming", or what is wrong).
     */
    @Serdeable
    record Lag(@Nullable Long bytes, @Nullable Double seconds, String status) {
    }
}
