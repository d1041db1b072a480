package dev.keel.testing;

import java.time.Duration;

/** Every timeout the tests wait with, in one table (as CloudNativePG's e2e timeouts.go). */
public final class Timeouts {
    /** From POST /v1/databases to available, including a first download and unpack of the binaries. */
    public static final Duration PROVISION = Duration.ofSeconds(120);
    /** A fork or rollback of a small test database: unpack, replay, promote. */
    public static final Duration RESTORE = Duration.ofSeconds(240);
    /** From DELETE to 404. */
    public static final Duration DEPROVISION = Duration.ofSeconds(60);
    /** From starting a Keel process to /health answering (a first start initialises the catalog). */
    public static final Duration KEEL_START = Duration.ofSeconds(120);
    /** For a killed or stopped process to be gone. */
    public static final Duration PROCESS_EXIT = Duration.ofSeconds(30);
    /** A logical backup or restore (pg_dump, pg_restore) of a small test database. */
    public static final Duration LOGICAL_BACKUP = Duration.ofSeconds(180);
    /** Five hundred clients through a pooler doing a few transactions each, on a loaded machine. */
    public static final Duration POOL_RUN = Duration.ofSeconds(240);
    /** From a primary change (failover, switchover, upgrade) to its pooler pointing at the new primary. */
    public static final Duration POOL_FOLLOW = Duration.ofSeconds(30);
    /** An HA standby built and streaming (a restore of the newest base backup). */
    public static final Duration STANDBY = Duration.ofSeconds(240);
    /** A major-version upgrade of a small test database, its follower rebuilt, on a loaded machine. */
    public static final Duration UPGRADE = Duration.ofSeconds(600);
    /** A single HTTP request to Keel. */
    public static final Duration REQUEST = Duration.ofSeconds(30);

    private Timeouts() {
    }
}
