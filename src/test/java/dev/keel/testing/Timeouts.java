package dev.keel.testing;

import java.time.Duration;

/**
 * Every timeout the tests wait with, in one table (as CloudNativePG's e2e timeouts.go). On a
 * machine that does much else at once, {@code -Dkeel.test.timeout-scale=3} multiplies them all;
 * CI runs them as they are.
 */
public final class Timeouts {
    private static final double SCALE = Double.parseDouble(System.getProperty("keel.test.timeout-scale", "1"));
    /** From POST /v1/databases to available, including a first download and unpack of the binaries. */
    public static final Duration PROVISION = scaled(120);
    /** A fork or rollback of a small test database: unpack, replay, promote. */
    public static final Duration RESTORE = scaled(240);
    /** From DELETE to 404. */
    public static final Duration DEPROVISION = scaled(60);
    /** From starting a Keel process to /health answering (a first start initialises the catalog). */
    public static final Duration KEEL_START = scaled(120);
    /** A plain Postgres server a test starts itself (initdb, then accepting connections). */
    public static final Duration SERVER_START = scaled(60);
    /** For a killed or stopped process to be gone. */
    public static final Duration PROCESS_EXIT = scaled(30);
    /** A dataclip that moves gigabytes from its server to Keel (the heap test's). */
    public static final Duration BIG_CLIP = scaled(300);
    /** A logical backup or restore (pg_dump, pg_restore) of a small test database. */
    public static final Duration LOGICAL_BACKUP = scaled(180);
    /** Five hundred clients through a pooler doing a few transactions each, on a loaded machine. */
    public static final Duration POOL_RUN = scaled(240);
    /** From a primary change (failover, switchover, upgrade) to its pooler pointing at the new primary. */
    public static final Duration POOL_FOLLOW = scaled(30);
    /** An HA standby built and streaming (a restore of the newest base backup). */
    public static final Duration STANDBY = scaled(240);
    /** A major-version upgrade of a small test database, its follower rebuilt, on a loaded machine. */
    public static final Duration UPGRADE = scaled(600);
    /**
     * The WAL receiver's bound: what a primary flushed is in the object store within this (1 s,
     * the RPO). Scaled like the rest: on a machine loaded far past its cores it is not met.
     */
    public static final Duration STREAMED = scaled(1);
    /** A connection attempt across a link that may be cut (Hosts), which then fails by this bound. */
    public static final Duration CUT_CONNECT = scaled(3);
    /** A request to a Keel whose catalog is cut off: past its catalog pool's 30 s wait for a connection. */
    public static final Duration CATALOG_CUT_REQUEST = scaled(45);
    /** A single HTTP request to Keel. */
    public static final Duration REQUEST = scaled(30);

    /** For a change on a database to show in its series as Prometheus scraped them (refresh every 10 s, scrape every second). */
    public static final Duration METRICS = scaled(60);

    /** A node's heartbeat to advance (every 2 s), and the node gauge to count what changed (at each heartbeat). */
    public static final Duration NODE_HEARTBEAT = scaled(10);
    /** A log follow stream to end once its API key is revoked (it asks at every poll, each half second). */
    public static final Duration FOLLOW_REVOKED = scaled(10);
    /** A log follow stream's count to be given back once its client went (the server notices the closed connection). */
    public static final Duration FOLLOW_RELEASED = scaled(15);
    /** A download served while stalled clients hold every download thread: past the shared Keel's stall bound (4 s), with room. */
    public static final Duration DOWNLOAD_PAST_STALLED = scaled(30);
    /**
     * A backup download under way to end once its link's API key is revoked through the node serving it (its stall watch has
     * the key asked about at each turn, on threads of its own), for a slow client that drains what the kernels' buffers hold
     * (a few MB) at its own pace.
     */
    public static final Duration DOWNLOAD_REVOKED = scaled(10);
    /** A restore URL's GET to fail once its header deadline (made 1 s by the test) has passed, on a loaded machine. */
    public static final Duration PAST_HEAD_DEADLINE = scaled(10);
    /** A few more turns of a dumps watchdog check scheduled every 50 ms (WatchdogsTest). */
    public static final Duration WATCHDOG_TURNS = scaled(5);
    /** A log follow stream's keepalive to arrive: a few of the shared Keel's keepalive spans (1 s). */
    public static final Duration FOLLOW_KEEPALIVE = scaled(10);
    /** A line a server writes to its log, to reach {@code heroku logs --tail}. */
    public static final Duration LOG_LINE = scaled(30);
    /** A commit that waits for a WAL receiver which died with Keel (kill -9), until the fence guard lets it go (grace 2 s in the test). */
    public static final Duration LET_GO = scaled(30);
    /** A premium database's HA standby to stream, from its first base backup on. */
    public static final Duration HA_STANDBY = scaled(240);
    /** The follower watch (every 15 s) to see a follower's lost slot or divergence and start rebuilding it. */
    public static final Duration FOLLOWER_WATCH = scaled(90);
    /** A follower's leader writing past a small max_slot_wal_keep_size, for the follower's slot to be invalidated. */
    public static final Duration SLOT_INVALIDATED = scaled(60);
    /** A planned switchover to the HA standby, to a writable new primary. */
    public static final Duration SWITCHOVER = scaled(120);
    /** A session to pass pg:diagnose's one-minute thresholds (long query, idle in transaction). */
    public static final Duration DIAGNOSE_MINUTE = scaled(90);
    /** A WAL receiver's next status (sent every second) to reach its server, and its slot to move with it. */
    public static final Duration RECEIVER_STATUS = scaled(10);
    /** A check of the HA monitor that a test calls itself, once no other actor (a backup, a build) holds the database's lease. */
    public static final Duration HA_CHECK = scaled(30);
    /** A thread a test started to meet a lock, to reach it (blocked) or end. */
    public static final Duration LOCK_MET = scaled(10);

    private Timeouts() {
    }

    private static Duration scaled(long seconds) {
        return Duration.ofMillis(Math.round(seconds * 1000 * SCALE));
    }
}
