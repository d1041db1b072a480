package dev.keel.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands every test that asks for a {@link TestKeel} the same one, started once per test run and
 * stopped (with every Postgres server it started) when the run ends. Tests that share it must
 * not depend on what other tests do to it: each works on its own databases and teams.
 */
public final class SharedKeel implements ParameterResolver {
    /** The shared Keel's add-on manifest password (its id is the default, {@code keel}). */
    public static final String ADDON_PASSWORD = "manifest-secret";
    /** The shared Keel's cap on a server's log, in MB (KEEL_INSTANCES_LOG_MAX_MB). */
    public static final int LOG_MAX_MB = 16;
    /** How long the shared Keel's log follow streams last (KEEL_LOGS_FOLLOW_FOR): past a request's patience, so a test sees one end. */
    public static final long FOLLOW_FOR_SECONDS = Timeouts.REQUEST.toSeconds() + 10;
    /** How many log follow streams one team may hold open at once in the shared Keel (KEEL_LOGS_FOLLOW_MAX_PER_TEAM): few, so a test reaches it. */
    public static final int FOLLOW_MAX_PER_TEAM = 3;
    /** The span over which a backup download must keep its minimum rate in the shared Keel (KEEL_BACKUPS_DOWNLOAD_STALL): short, so a test sees one end. */
    public static final long DOWNLOAD_STALL_SECONDS = 4;
    /**
     * The rate a backup download must average in the shared Keel (KEEL_BACKUPS_DOWNLOAD_MIN_RATE), in KiB/s: high, so that a
     * trickle is cut within seconds although the kernel's socket buffers (megabytes) count as taken.
     */
    public static final long DOWNLOAD_MIN_RATE_KIB = 2048;
    /** How long a download connection may take to send its request in the shared Keel (KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN): half the stall span. */
    public static final long DOWNLOAD_REQUEST_WITHIN_SECONDS = 2;
    /**
     * How many downloads of one team's backups may run at once in the shared Keel (KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM): one more
     * than one backup's two, so a test reaches the team's cap with two backups.
     */
    public static final int DOWNLOAD_MAX_PER_TEAM = 3;
    /** How often a log follow stream sends a keepalive in the shared Keel (KEEL_LOGS_FOLLOW_KEEPALIVE): often, so a test sees one. */
    public static final long FOLLOW_KEEPALIVE_SECONDS = 1;
    /**
     * How long after a standby build began the shared Keel's HA monitor asks for the next one (KEEL_HA_STANDBY_RETRY): seconds,
     * not the default minute, which a test that switches over or fails over soon after its database's first standby waited out.
     */
    public static final long STANDBY_RETRY_SECONDS = 5;
    /** A lock ({@code @ResourceLock}) for the classes that add or compare rows of the shared catalog's node registry. */
    public static final String NODES = "shared-keel-nodes";

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == TestKeel.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .getOrComputeIfAbsent(Holder.class, type -> new Holder(TestKeel.start("shared",
                        // A server log cap a test can reach in a second (ServerLogCapTest); no other test logs as much.
                        // A follow of a log that a test can see end (LogsTest), and a cap on them it can reach (LogFollowLimitsTest);
                        // a keepalive a test sees soon (LogFollowLimitsTest); a stalled, trickling or half-open backup download ended
                        // soon, and a team's cap on downloads a test reaches (DumpDownloadStallTest). A premium database's next
                        // standby after a switchover or failover within a minute of the last build is asked for 5 s after that build
                        // began, not a minute (HostileOwnerHaTest, ConnectionPoolingTest, HerokuSettingsCliTest).
                        java.util.Map.of("keel.addon.password", ADDON_PASSWORD, "keel.instances.log-max-mb", LOG_MAX_MB,
                                "keel.logs.follow-for", FOLLOW_FOR_SECONDS + "s", "keel.logs.follow-max-per-team", FOLLOW_MAX_PER_TEAM,
                                "keel.logs.follow-keepalive", FOLLOW_KEEPALIVE_SECONDS + "s",
                                "keel.backups.download-stall", DOWNLOAD_STALL_SECONDS + "s",
                                "keel.backups.download-min-rate", DOWNLOAD_MIN_RATE_KIB,
                                "keel.backups.download-request-within", DOWNLOAD_REQUEST_WITHIN_SECONDS + "s",
                                "keel.backups.download-max-per-team", DOWNLOAD_MAX_PER_TEAM,
                                "keel.ha.standby-retry", STANDBY_RETRY_SECONDS + "s"))),
                        Holder.class)
                .keel;
    }

    private static final class Holder implements AutoCloseable {
        private final TestKeel keel;

        Holder(TestKeel keel) {
            this.keel = keel;
        }

        @Override
        public void close() {
            keel.close();
        }
    }
}
