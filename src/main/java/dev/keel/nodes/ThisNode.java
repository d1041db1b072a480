package dev.keel.nodes;

import dev.keel.KeelHome;
import dev.keel.StartupException;
import dev.keel.catalog.CatalogLocation;
import dev.keel.postgres.PortRange;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.Condition;
import org.jooq.impl.DSL;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;

import static dev.keel.catalog.schema.Tables.NODES;

/**
 * The node this process is, as the registry records it: its name ({@code KEEL_NODE_NAME}, default
 * the host name), its version, how often it heartbeats and after how long without one a node is
 * lost, and its capacity (the instance port range, a memory and a disk budget). Read once at start,
 * so that a bad setting stops Keel with a sentence rather than a node that flaps.
 */
@Singleton
public final class ThisNode {
    private static final long MB = 1024 * 1024;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,254}");

    private final String name;
    private final String version;
    private final Duration heartbeatInterval;
    private final Duration lostAfter;
    private final PortRange ports;
    private final long memoryBudgetMb;
    private final long diskBudgetMb;
    private final boolean embeddedCatalog;
    private final Path serverDir;

    /** The file system under the server directory as last read, in MB: usable by Keel, and taken by anything. */
    public record Disk(long freeMb, long usedMb) {
    }

    ThisNode(@Value("${keel.node.name:}") String name,
             @Value("${keel.node.heartbeat-interval:2s}") Duration heartbeatInterval,
             @Value("${keel.node.lost-after:15s}") Duration lostAfter,
             @Value("${keel.node.memory-budget-mb:0}") long memoryBudgetMb,
             @Value("${keel.node.disk-budget-mb:0}") long diskBudgetMb,
             @Value("${keel.instances.ports}") String ports, CatalogLocation catalog, KeelHome home) {
        this.name = name.isBlank() ? hostName() : name.strip();
        if (!NAME.matcher(this.name).matches()) {
            throw new StartupException("KEEL_NODE_NAME '" + this.name + "' is not a node name: use letters, digits, '.', '_' and '-'"
                    + " (at most 255, starting with a letter or digit).");
        }
        if (heartbeatInterval.isNegative() || heartbeatInterval.isZero() || lostAfter.compareTo(heartbeatInterval.multipliedBy(2)) < 0) {
            throw new StartupException("KEEL_NODE_LOST_AFTER (" + lostAfter.toMillis() + " ms) must be at least twice KEEL_NODE_HEARTBEAT_INTERVAL ("
                    + heartbeatInterval.toMillis() + " ms, above 0), or a live node would be shown lost between two heartbeats.");
        }
        if (memoryBudgetMb < 0 || diskBudgetMb < 0) {
            throw new StartupException("KEEL_NODE_MEMORY_BUDGET_MB and KEEL_NODE_DISK_BUDGET_MB are megabytes, 0 or more (0: no memory"
                    + " budget, the whole disk under the server directory).");
        }
        this.version = buildVersion();
        this.heartbeatInterval = heartbeatInterval;
        this.lostAfter = lostAfter;
        this.ports = PortRange.parse(ports);
        this.memoryBudgetMb = memoryBudgetMb;
        this.diskBudgetMb = diskBudgetMb > 0 ? diskBudgetMb : diskMb(home);
        this.embeddedCatalog = catalog.embedded();
        this.serverDir = home == null ? null : home.serverDir();
    }

    /** The file system under the server directory now; empty when it cannot be read (placement then goes by this node's own check). */
    public Optional<Disk> disk() {
        if (serverDir == null) {
            return Optional.empty();
        }
        try {
            FileStore store = Files.getFileStore(existingAncestor(serverDir));
            long total = store.getTotalSpace();
            return Optional.of(new Disk(store.getUsableSpace() / MB, (total - store.getUnallocatedSpace()) / MB));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public String name() {
        return name;
    }

    public String version() {
        return version;
    }

    public Duration heartbeatInterval() {
        return heartbeatInterval;
    }

    /** How long without a heartbeat until a node is {@code lost}. */
    public Duration lostAfter() {
        return lostAfter;
    }

    /**
     * Whether a node whose last heartbeat is {@code silence} old, by the catalog's clock, is lost:
     * silent past {@code keel.node.lost-after}. The one rule every reader of "lost" applies;
     * {@link #lost()} says it in SQL.
     */
    public boolean isLost(Duration silence) {
        return silence.compareTo(lostAfter) > 0;
    }

    /**
     * {@link #isLost} in SQL, on the catalog's clock (its transaction's {@code now()}): the rows of
     * {@code nodes} whose heartbeat is older than {@code keel.node.lost-after}.
     */
    public Condition lost() {
        return DSL.condition("{0} < pg_catalog.now() - {1}::interval", NODES.HEARTBEAT_AT, DSL.val(lostAfter.toMillis() + " milliseconds"));
    }

    public PortRange ports() {
        return ports;
    }

    /** The memory this node's servers may count for, by plan, before placement passes over it; 0: no budget. */
    public long memoryBudgetMb() {
        return memoryBudgetMb;
    }

    public long diskBudgetMb() {
        return diskBudgetMb;
    }

    /** Whether this node's catalog is its own embedded one, which no other node may join. */
    public boolean embeddedCatalog() {
        return embeddedCatalog;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /** This build's version ({@link #version(String, String)}), read from its own jar. */
    public static String buildVersion() {
        try (InputStream in = ThisNode.class.getResourceAsStream("/keel-version.properties")) {
            if (in == null) {
                return "unknown";
            }
            Properties properties = new Properties();
            properties.load(in);
            return version(properties.getProperty("version", "unknown"), properties.getProperty("commit", ""));
        } catch (IOException e) {
            throw new UncheckedIOException("could not read keel-version.properties", e);
        }
    }

    /**
     * A build's version with the commit it was built from as build metadata ({@code 0.1.0+1a2b3c4}),
     * so that two commits of one release are two versions during a rolling upgrade; the release
     * alone when built without Git history (the commit left unfiltered).
     */
    static String version(String release, String commit) {
        return commit.isBlank() || commit.startsWith("${") ? release : release + "+" + commit;
    }

    private static Path existingAncestor(Path path) {
        Path under = path;
        while (under.getParent() != null && !Files.exists(under)) {
            under = under.getParent();
        }
        return under;
    }

    private static long diskMb(KeelHome home) {
        try {
            return Files.getFileStore(existingAncestor(home.serverDir())).getTotalSpace() / MB;
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the size of the disk under " + home.serverDir(), e);
        }
    }
}
