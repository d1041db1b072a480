package dev.keel.instances;

import dev.keel.KeelHome;
import dev.keel.Network;
import dev.keel.nodes.Placement;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.core.convert.format.ReadableBytes;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether this host has room for one more instance, asked before a database is recorded, so that
 * running out of ports or disk is a clear answer to the request that would need them, never a
 * database left half made.
 */
@Singleton
public final class Capacity {
    private final InstanceRepository instances;
    private final Network network;
    private final Path serverDir;
    private final long minFreeBytes;
    private final Placement placement;

    Capacity(InstanceRepository instances, Network network, KeelHome home, Placement placement,
             @Value("${keel.disk.min-free}") @ReadableBytes long minFreeBytes) {
        this.placement = placement;
        this.instances = instances;
        this.network = network;
        this.serverDir = home.serverDir();
        this.minFreeBytes = minFreeBytes;
    }

    /**
     * Where a new database that needs {@code demand} goes ({@link Placement#chooseAndHold}, away
     * from node {@code awayFrom} if another is active with room), chosen in transaction {@code tx},
     * which records it there; when that is this node, a 507 when its disk is nearly full and a 503
     * when no port is left (a warm instance of {@code major} needs none). Another node checks its
     * own room as it makes the servers.
     */
    public Placement.Placed placeInstance(DSLContext tx, int major, @Nullable String awayFrom, Placement.Demand demand) {
        Placement.Placed placed = placement.chooseAndHold(tx, awayFrom, demand);
        if (placed.here()) {
            requireRoomHere(tx, major);
        }
        return placed;
    }

    private void requireRoomHere(DSLContext tx, int major) {
        long free;
        try {
            free = Files.getFileStore(serverDir).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the free space under " + serverDir, e);
        }
        if (free < minFreeBytes) {
            throw new KeelException(ProblemType.INSUFFICIENT_STORAGE, "The disk under " + serverDir + " has " + free / (1024 * 1024)
                    + " MB free, less than KEEL_DISK_MIN_FREE (" + minFreeBytes / (1024 * 1024) + " MB), so Keel makes no new server"
                    + " there; free space or give Keel a larger disk, then try again. Nothing was created.");
        }
        if (instances.unreservedPorts(tx, network.localHost()) == 0 && instances.pooled(tx, major) == 0) {
            throw new KeelException(ProblemType.NO_CAPACITY, "No free port is left in the instance port range "
                    + instances.portRange() + " on " + network.localHost() + "; widen KEEL_INSTANCES_PORTS or delete unused"
                    + " databases, then try again. Nothing was created.");
        }
    }
}
