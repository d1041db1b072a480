package dev.keel;

import dev.keel.addons.AddonResources;
import dev.keel.archive.WalArchiver;
import dev.keel.archive.WalReceivers;
import dev.keel.auth.Teams;
import dev.keel.catalog.InstallationIdentity;
import dev.keel.catalog.CatalogSchema;
import dev.keel.catalog.NodeLock;
import dev.keel.credentials.Secrets;
import dev.keel.instances.InstanceSweep;
import dev.keel.jobs.Jobs;
import dev.keel.nodes.NodeHeartbeat;
import dev.keel.nodes.NodeRegistry;
import dev.keel.nodes.ThisNode;
import dev.keel.instances.WarmPool;
import dev.keel.operations.Decision;
import dev.keel.operations.OperationInbox;
import dev.keel.operations.Reconciler;
import dev.keel.replication.HaMonitor;
import dev.keel.replication.ReceiverSyncCommit;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.context.event.StartupEvent;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.util.List;
import java.util.UUID;

/**
 * What Keel does once, in this order, when it starts and before it serves: become the catalog's
 * only node (refusing another node's embedded catalog), prove the secret key, check that the data
 * directory belongs to this catalog, register in the node registry and start heartbeating, load
 * the CA, create the first team and admin key on a new installation, remove orphaned
 * instances and restart stopped ones, settle interrupted operations, start shipping WAL and the
 * scheduled jobs, then top up the warm pool.
 */
@Singleton
final class KeelStartup implements ApplicationEventListener<StartupEvent> {
    private final DSLContext dsl;
    private final Secrets secrets;
    private final InstallationIdentity identity;
    private final NodeLock nodeLock;
    private final CertificateAuthority authority;
    private final Teams teams;
    private final InstanceSweep sweep;
    private final Reconciler reconciler;
    private final OperationInbox inbox;
    private final WarmPool pool;
    private final CatalogSchema catalogSchema;
    private final WalArchiver archiver;
    private final WalReceivers receivers;
    private final Jobs jobs;
    private final HaMonitor haMonitor;
    private final ReceiverSyncCommit receiverSync;
    private final AddonResources addons;
    private final ThisNode node;
    private final NodeRegistry registry;
    private final NodeHeartbeat heartbeat;
    private volatile List<Decision> decisions = List.of();

    KeelStartup(DSLContext dsl, NodeLock nodeLock, Secrets secrets, InstallationIdentity identity, CertificateAuthority authority, Teams teams, InstanceSweep sweep, Reconciler reconciler, OperationInbox inbox,
                WarmPool pool, WalArchiver archiver, WalReceivers receivers, Jobs jobs, HaMonitor haMonitor, ReceiverSyncCommit receiverSync,
                AddonResources addons, ThisNode node, NodeRegistry registry, NodeHeartbeat heartbeat,
                CatalogSchema catalogSchema) {
        this.node = node;
        this.registry = registry;
        this.heartbeat = heartbeat;
        this.haMonitor = haMonitor;
        this.receiverSync = receiverSync;
        this.addons = addons;
        this.archiver = archiver;
        this.receivers = receivers;
        this.jobs = jobs;
        this.dsl = dsl;
        this.secrets = secrets;
        this.identity = identity;
        this.nodeLock = nodeLock;
        this.authority = authority;
        this.teams = teams;
        this.sweep = sweep;
        this.reconciler = reconciler;
        this.inbox = inbox;
        this.pool = pool;
        this.catalogSchema = catalogSchema;
    }

    @Override
    public void onApplicationEvent(StartupEvent event) {
        nodeLock.acquire(node.name());
        try {
            catalogSchema.check();
            registry.checkJoin();
            secrets.checkAgainstCatalog(dsl);
            UUID installation = identity.check(dsl);
            registry.register();
            heartbeat.start();
            catalogSchema.watch();
            authority.load();
            teams.bootstrap();
            haMonitor.withdrawFenceAcks(); // before any server of this node starts: its monitor gives them again as it covers them
            sweep.sweep();
            decisions = reconciler.reconcile();
            sweep.start();
            inbox.start();
            archiver.start();
            receivers.start();
            jobs.start(installation);
            haMonitor.start();
            receiverSync.start();
            addons.resume();
            pool.fillNow();
        } catch (RuntimeException e) {
            // A failed start is not shut down bean by bean; let the next start have the catalog.
            nodeLock.release();
            throw e;
        }
    }

    /** What the reconciler decided at this start. */
    List<Decision> decisions() {
        return decisions;
    }
}
