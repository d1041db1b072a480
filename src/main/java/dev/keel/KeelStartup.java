package dev.keel;

import dev.keel.auth.Teams;
import dev.keel.credentials.Secrets;
import dev.keel.instances.InstanceSweep;
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
 * instances and restart stopped ones, then settle interrupted operations.
 */
@Singleton
final class KeelStartup implements ApplicationEventListener<StartupEvent> {
    private final DSLContext dsl;
    private final Secrets secrets;
    private final CertificateAuthority authority;
    private final Teams teams;
    private final InstanceSweep sweep;
    private final Reconciler reconciler;
    private volatile List<Decision> decisions = List.of();

    KeelStartup(DSLContext dsl, Secrets secrets, CertificateAuthority authority, Teams teams, InstanceSweep sweep, Reconciler reconciler) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.authority = authority;
        this.teams = teams;
        this.sweep = sweep;
        this.reconciler = reconciler;
    }

    @Override
    public void onApplicationEvent(StartupEvent event) {
        secrets.checkAgainstCatalog(dsl);
        authority.load();
        teams.bootstrap();
        sweep.sweep();
        decisions = reconciler.reconcile();
    }

    /** What the reconciler decided at this start. */
    List<Decision> decisions() {
        return decisions;
    }
}
