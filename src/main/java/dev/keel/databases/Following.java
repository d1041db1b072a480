package dev.keel.databases;

import io.micronaut.core.annotation.Nullable;
import io.micronaut.serde.annotation.Serdeable;

import java.util.List;
import java.util.function.Consumer;

/**
 * Replication as the database lifecycle needs it, which the replication capability provides:
 * how far behind its leader a follower is, turning a follower into an independent database, and
 * the HA status.
 */
public interface Following {
    /** How far {@code follower} is behind its leader now (asked of the leader's server). */
    Lag lag(Database follower);

    /** The HA status of {@code database} ("Available", or why not), or null for a database on a plan without HA. */
    @Nullable
    String haStatus(Database database);

    /**
     * Promotes {@code follower} into an independent, writable database: its own superuser
     * password, its plan's settings, no slot on its leader any more, no leader. May run again
     * after a crash; reports each step on {@code onStep}.
     */
    void unfollow(Database follower, Consumer<String> onStep) throws Exception;

    /** Applies a follower's plan settings again (after its or its leader's plan changed); it keeps streaming. */
    void reconfigure(Database follower) throws Exception;

    /**
     * {@link #reconfigure} of each of {@code followers}: those on other nodes are handed to their
     * nodes first and waited for together, so that a leader's plan change waits one patience for
     * all of them, not one per follower.
     */
    void reconfigureAll(List<Database> followers) throws Exception;

    /** Removes {@code database}'s HA standby, if it has one: its server, its data, its slot on the primary. */
    void removeStandby(Database database) throws Exception;

    /**
     * A follower's lag: {@code bytes} of WAL its leader has written that it has not replayed, and
     * {@code seconds} that replay is behind (0 when it has caught up); both null when unknown,
     * with {@code status} saying why ("streaming", or what is wrong).
     */
    @Serdeable
    record Lag(@Nullable Long bytes, @Nullable Double seconds, String status) {
    }
}
