package dev.keel.pooling;

import dev.keel.databases.Database;
import dev.keel.databases.Plans;
import dev.keel.postgres.ClientProcess;
import dev.keel.postgres.ClientTools;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerUser;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A pooler's figures from its admin console ({@code SHOW POOLS}): clients served and waiting, and
 * the server connections it holds, for {@code GET .../connection-pooling} (and {@code /metrics}).
 * Read with psql: the admin console answers only what psql sends (pgjdbc's session setup
 * statements are refused there).
 */
@Singleton
final class PoolerStats {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final PoolerRepository repository;
    private final Plans plans;
    private final CertificateAuthority authority;
    private final ClientTools tools;
    private final ServerUser user;

    PoolerStats(PoolerRepository repository, Plans plans, CertificateAuthority authority, ClientTools tools, ServerAccounts accounts) {
        this.repository = repository;
        this.plans = plans;
        this.authority = authority;
        this.tools = tools;
        this.user = accounts.tools();
    }

    @Serdeable
    record Stats(int port, String poolMode, int poolSize, long clientsActive, long clientsWaiting, long serversActive, long serversIdle) {
    }

    Stats of(Database database, Pooler pooler) throws IOException, InterruptedException {
        ClientTools.Tool psql = tools.newest("psql").orElseThrow(() -> new KeelException(ProblemType.CLIENT_TOOLS_NEEDED,
                "psql is not installed on this Keel node; install postgresql-client to read pool figures."));
        ClientProcess.Target console = new ClientProcess.Target(pooler.host(), pooler.port(), PgBouncerConfig.ADMIN,
                repository.adminPassword(pooler), "pgbouncer", authority.sharedCertificateFile(), "");
        String output;
        try (ClientProcess process = ClientProcess.start(user, List.of(psql.path().toString(), "-X", "-A", "-F", "|", "--no-password",
                "-c", "SHOW POOLS"), console, ClientProcess.Stream.OUTPUT)) {
            try (InputStream out = process.output()) {
                output = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (process.waitFor(TIMEOUT) != 0) {
                throw new IOException("psql could not read the pooler's figures: " + process.errors());
            }
        }
        List<String> lines = output.lines().toList();
        List<String> columns = Arrays.asList(lines.get(0).split("\\|", -1));
        long clientsActive = 0;
        long clientsWaiting = 0;
        long serversActive = 0;
        long serversIdle = 0;
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split("\\|", -1);
            if (cells.length != columns.size() || !database.pgDatabase().equals(cells[columns.indexOf("database")])) {
                continue; // the "(n rows)" footer, or another database's pool
            }
            clientsActive += Long.parseLong(cells[columns.indexOf("cl_active")]);
            clientsWaiting += Long.parseLong(cells[columns.indexOf("cl_waiting")]);
            serversActive += Long.parseLong(cells[columns.indexOf("sv_active")]);
            for (String idle : List.of("sv_idle", "sv_used", "sv_tested", "sv_login")) {
                serversIdle += Long.parseLong(cells[columns.indexOf(idle)]);
            }
        }
        return new Stats(pooler.port(), "transaction", PgBouncerConfig.poolSize(plans.require(database.plan()).connections()),
                clientsActive, clientsWaiting, serversActive, serversIdle);
    }
}
