package dev.keel.dumps;

import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.ClientProcess;
import dev.keel.postgres.ClientTools;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerUser;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import jakarta.inject.Singleton;

import java.util.List;

/**
 * Client programs against a database's server, run as the server user: as Keel's superuser for a
 * dump (its session pinned as Keel's own: {@code role=none}, {@code search_path=pg_catalog,pg_temp},
 * no timeouts), and as the database's own owner for a restore, so that nothing a dump holds runs with more than the owner's rights.
 */
@Singleton
final class DumpClients {
    /** How long pg_dump waits for a table's lock (any SET lock_timeout value). */
    static final String LOCK_WAIT = "2min";

    private final ServerUser user;
    private final InstanceRepository instances;
    private final Credentials credentials;
    private final CertificateAuthority authority;

    DumpClients(ServerAccounts accounts, InstanceRepository instances, Credentials credentials, CertificateAuthority authority) {
        this.user = accounts.tools();
        this.instances = instances;
        this.credentials = credentials;
        this.authority = authority;
    }

    /**
     * pg_dump's command line for a custom-format dump to standard output. Its table locks wait at
     * most {@code LOCK_WAIT}: a session holding a lock on a table (a hostile owner's open
     * transaction, say) fails the dump rather than holding an operation thread for ever.
     */
    static List<String> pgDump(ClientTools.Tool pgDump) {
        return List.of(pgDump.path().toString(), "--format=custom", "--no-password", "--lock-wait-timeout=" + LOCK_WAIT);
    }

    ClientProcess start(List<String> argv, ClientProcess.Target target, ClientProcess.Stream stream) {
        return ClientProcess.start(user, argv, target, stream);
    }

    ClientProcess.Target superuser(Instance server, String database) {
        return new ClientProcess.Target(server.host(), server.port(), InstanceConfig.SUPERUSER, instances.superuserPassword(server), database,
                // What Keel's own sessions pin (role, search_path, timeouts), so that no ALTER DATABASE/ROLE ... SET of the owner
                // reaches a dump.
                authority.sharedCertificateFile(), InstanceConnections.pinnedOptions(server.major()));
    }

    ClientProcess.Target owner(Database database, Instance server) {
        ConnectionUrl url = credentials.url(database.credentialsOwner(), Credential.DEFAULT, database.pgDatabase(), server.host(),
                server.port()).orElseThrow(() -> new KeelException(ProblemType.CONFLICT, database.name() + " has no owner credential."));
        return new ClientProcess.Target(server.host(), server.port(), url.user(), url.password(), database.pgDatabase(),
                authority.sharedCertificateFile(), "");
    }
}
