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
    /** A single HTTP request to Keel. */
    public static final Duration REQUEST = Duration.ofSeconds(30);

    /** A line a server writes to its log, to reach {@code heroku logs --tail}. */
    public static final Duration LOG_LINE = Duration.ofSeconds(30);
    /** A premium database's HA standby to stream, from its first base backup on. */
    public static final Duration HA_STANDBY = Duration.ofSeconds(240);
    /** A planned switchover to the HA standby, to a writable new primary. */
    public static final Duration SWITCHOVER = Duration.ofSeconds(120);
    /** A session to pass pg:diagnose's one-minute thresholds (long query, idle in transaction). */
    public static final Duration DIAGNOSE_MINUTE = Duration.ofSeconds(90);

    private Timeouts() {
    }
}
