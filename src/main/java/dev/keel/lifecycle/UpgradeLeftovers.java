package dev.keel.lifecycle;

import dev.keel.DaemonThreads;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRole;
import dev.keel.instances.InstanceState;
import dev.keel.jobs.Loops;
import dev.keel.operations.OperationKind;
import dev.keel.operations.OperationRepository;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Upgrade stream roles that outlived their upgrade, dropped once as a node starts. Before this
 * version an upgrade that failed or was canceled could not drop its stream's role (it held CONNECT
 * on the database), so a server that serves on may still hold one: it may log in, stream and read
 * every row, and its password may be in the server's log. On each running primary this node hosts
 * whose database has no upgrade running, every such role is dropped, in the background.
 */
@Singleton
final class UpgradeLeftovers implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(UpgradeLeftovers.class);
    private static final Set<OperationKind> UPGRADE = Set.of(OperationKind.UPGRADE);

    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final DatabaseLookup databases;
    private final OperationRepository operations;

    UpgradeLeftovers(InstanceRepository instances, InstanceConnections connections, DatabaseLookup databases,
                     OperationRepository operations) {
        this.instances = instances;
        this.connections = connections;
        this.databases = databases;
        this.operations = operations;
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        ExecutorService once = Executors.newSingleThreadExecutor(DaemonThreads.named("keel-upgrade-leftovers"));
        once.execute(() -> Loops.round("Dropping the roles of upgrade streams that outlived their upgrade", this::sweep));
        once.shutdown();
    }

    /** Drops the stream roles left on the running primaries this node hosts; returns them. */
    List<String> sweep() {
        List<String> dropped = new ArrayList<>();
        for (Instance server : instances.hostedHere()) {
            if (server.role() != InstanceRole.PRIMARY || server.state() != InstanceState.RUNNING || server.databaseId() == null
                    || operations.running(server.databaseId(), UPGRADE).isPresent()) {
                continue;
            }
            Optional<Database> database = databases.find(server.databaseId());
            if (database.isEmpty()) {
                continue;
            }
            try (Connection superuser = connections.open(server, "postgres").pinnedConnection()) {
                List<String> roles = UpgradeStreamSql.streamRoles(superuser);
                if (roles.isEmpty()) {
                    continue;
                }
                try (Connection onDatabase = connections.open(server, database.get().pgDatabase()).pinnedConnection()) {
                    for (String role : roles) {
                        if (operations.running(server.databaseId(), UPGRADE).isPresent()) {
                            break; // an upgrade began meanwhile: its stream's role is its own
                        }
                        UpgradeStreamSql.dropRole(superuser, onDatabase, role);
                        LOG.warn("Database {}: dropped role {}, left by an upgrade that ended before this version of Keel could drop"
                                + " it", database.get().name(), role);
                        dropped.add(role);
                    }
                }
            } catch (SQLException | RuntimeException e) {
                LOG.warn("Database {}: could not look for roles left by an upgrade: {}", database.get().name(), e.getMessage());
            }
        }
        return dropped;
    }
}
