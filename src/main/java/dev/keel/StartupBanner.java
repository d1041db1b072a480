package dev.keel;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.keel.auth.Teams;
import dev.keel.catalog.CatalogLocation;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.ServerAccounts;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.inject.Singleton;

import java.lang.management.ManagementFactory;
import java.util.stream.Collectors;

/**
 * Prints where Keel is once it serves: API URL, data directory (and server directory), which OS
 * accounts Postgres runs as, admin key file, catalog, node name, Postgres versions.
 */
@Singleton
final class StartupBanner implements ApplicationEventListener<ServerStartupEvent> {
    private final Network network;
    private final KeelHome home;
    private final Teams teams;
    private final CatalogLocation catalog;
    private final PostgresBinaries binaries;
    private final ServerAccounts accounts;
    private final ThisNode node;

    StartupBanner(Network network, KeelHome home, Teams teams, CatalogLocation catalog, PostgresBinaries binaries,
                  ServerAccounts accounts, ThisNode node) {
        this.node = node;
        this.accounts = accounts;
        this.network = network;
        this.home = home;
        this.teams = teams;
        this.catalog = catalog;
        this.binaries = binaries;
    }

    @Override
    public void onApplicationEvent(ServerStartupEvent event) {
        String versions = binaries.supportedMajors().stream()
                .map(major -> major + " (" + binaries.describe(major) + (major == binaries.defaultMajor() ? ", default" : "") + ")")
                .collect(Collectors.joining(", "));
        String api = network.apiUrl(event.getSource().getPort());
        System.out.println();
        System.out.println("Keel is running.");
        System.out.println("  API:               " + api + "/v1");
        System.out.println("  data directory:    " + home.dir());
        if (accounts.perInstance()) {
            System.out.println("  server directory:  " + home.serverDir() + " (instances, catalog cluster, binaries: what Postgres reaches)");
            System.out.println("  OS accounts:       one per instance (keel-<instance id>); the catalog runs as " + accounts.catalog().name());
        } else {
            System.out.println("  OS accounts:       every instance runs as " + accounts.catalog().name() + ", Keel's own account: a database"
                    + " superuser could reach the other databases' files; run Keel as root for an account per instance");
        }
        System.out.println("  admin API key:     " + teams.adminKeyFile()
                + (teams.adminKeyFile().toFile().exists() ? "" : " (not on this node: it was written where the installation began)"));
        System.out.println("  catalog:           " + catalog);
        System.out.println("  node:              " + node.name() + " (version " + node.version() + "; the nodes: " + api + "/v1/nodes)");
        System.out.println("  Postgres versions: " + versions);
        System.out.println("  CA certificate:    " + api + "/v1/ca.pem (also " + home.resolve("ca.pem") + ")");
        if (network.apiTls()) {
            System.out.println("  API TLS:           HTTPS only (it listens beyond loopback), certificate from Keel's CA for "
                    + network.publicHost() + (network.bindsAll() ? "" : " and " + network.bind()));
        }
        if (!exitsOnOutOfMemory()) {
            System.out.println("  warning:           java runs without -XX:+ExitOnOutOfMemoryError; start Keel as the README says, so that"
                    + " it exits when it runs out of memory");
        }
        System.out.println();
    }

    private static boolean exitsOnOutOfMemory() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        return vm != null && "true".equals(vm.getVMOption("ExitOnOutOfMemoryError").getValue());
    }
}
