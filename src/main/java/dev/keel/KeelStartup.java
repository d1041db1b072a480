package dev.keel;

import dev.keel.auth.Teams;
import dev.keel.credentials.Secrets;
import dev.keel.instances.InstanceSweep;
import dev.keel.instances.WarmPool;
import dev.keel.operations.Decision;
import dev.keel.operations.Reconciler;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.context.event.StartupEvent;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.util.List;

/**
 * What Keel does once, in this order, when it starts and before it serves: prove the secret
 * key, load the CA, create the first team and admin key on a new installation, remove orphaned
 * instances and restart stopped ones, settle interrupted operations, then top up the warm pool.
 */
@Singleton
final class KeelStartup implements ApplicationEventListener<StartupEvent> {
    private final DSLContext dsl;
    private final Secrets secrets;
    private final CertificateAuthority authority;
    private final Teams teams;
    private final InstanceSweep sweep;
    private final Reconciler reconciler;
    private final WarmPool pool;
    private volatile List<Decision> decisions = List.of();

    KeelStartup(DSLContext dsl, Secrets secrets, CertificateAuthority authority, Teams teams, InstanceSweep sweep, Reconciler reconciler,
                WarmPool pool) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.authority = authority;
        this.teams = teams;
        this.sweep = sweep;
        this.reconciler = reconciler;
        this.pool = pool;
    }

    @Override
    public void onApplicationEvent(StartupEvent event) {
        secrets.checkAgainstCatalog(dsl);
        authority.load();
        teams.bootstrap();
        sweep.sweep();
        decisions = reconciler.reconcile();
        pool.refill();
    }

    /** What the reconciler decided at this start. */
    List<Decision> decisions() {
        return decisions;
    }
}
