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
import java.util.ArrayList;
import java.util.List;
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
        List<String> lines = new ArrayList<>(List.of("", "Keel is running."));
        lines.add("  API:               " + api + "/v1");
        lines.add("  data directory:    " + home.dir());
        if (accounts.perInstance()) {
            lines.add("  server directory:  " + home.serverDir() + " (instances, catalog cluster, binaries: what Postgres reaches)");
            lines.add("  OS accounts:       one per instance (keel-<instance id>); the catalog runs as " + accounts.catalog().name());
        } else {
            lines.add("  OS accounts:       every instance runs as " + accounts.catalog().name() + ", Keel's own account: a database"
                    + " superuser could reach the other databases' files; run Keel as root for an account per instance");
        }
        lines.add("  admin API key:     " + teams.adminKeyFile()
                + (teams.adminKeyFile().toFile().exists() ? "" : " (not on this node: it was written where the installation began)"));
        lines.add("  catalog:           " + catalog);
        lines.add("  node:              " + node.name() + " (version " + node.version() + "; the nodes: " + api + "/v1/nodes)");
        lines.add("  Postgres versions: " + versions);
        lines.add("  CA certificate:    " + api + "/v1/ca.pem (also " + home.resolve("ca.pem") + ")");
        if (network.apiTls()) {
            lines.add("  API TLS:           HTTPS only (it listens beyond loopback), certificate from Keel's CA for "
                    + network.publicHost() + (network.bindsAll() ? "" : " and " + network.bind()));
        }
        if (!exitsOnOutOfMemory()) {
            lines.add("  warning:           java runs without -XX:+ExitOnOutOfMemoryError; start Keel as the README says, so that"
                    + " it exits when it runs out of memory");
        }
        // One write, so that a reader of the log (a supervisor, a test waiting for the start) sees it whole.
        System.out.print(String.join("\n", lines) + "\n\n");
        System.out.flush();
    }

    private static boolean exitsOnOutOfMemory() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        return vm != null && "true".equals(vm.getVMOption("ExitOnOutOfMemoryError").getValue());
    }
}
