package dev.keel.pooling;

import dev.keel.databases.Database;
import dev.keel.databases.Plans;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.serde.annotation.Serdeable;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * A pooler's figures from its admin console ({@code SHOW POOLS}): clients served and waiting, and
 * the server connections it holds, for {@code GET .../connection-pooling} (and {@code /metrics}).
 */
@Singleton
final class PoolerStats {
    private static final int TIMEOUT_SECONDS = 5;

    private final PoolerRepository repository;
    private final Plans plans;
    private final CertificateAuthority authority;

    PoolerStats(PoolerRepository repository, Plans plans, CertificateAuthority authority) {
        this.repository = repository;
        this.plans = plans;
        this.authority = authority;
    }

    @Serdeable
    record Stats(int port, String poolMode, int poolSize, long clientsActive, long clientsWaiting, long serversActive, long serversIdle) {
    }

    Stats of(Database database, Pooler pooler) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", PgBouncerConfig.ADMIN);
        props.setProperty("password", repository.adminPassword(pooler));
        props.setProperty("sslmode", "verify-full");
        props.setProperty("sslrootcert", authority.certificateFile().toString());
        props.setProperty("preferQueryMode", "simple");
        props.setProperty("connectTimeout", Integer.toString(TIMEOUT_SECONDS));
        props.setProperty("socketTimeout", Integer.toString(TIMEOUT_SECONDS));
        props.setProperty("assumeMinServerVersion", "9.0");
        long clientsActive = 0;
        long clientsWaiting = 0;
        long serversActive = 0;
        long serversIdle = 0;
        try (Connection console = DriverManager.getConnection("jdbc:postgresql://" + pooler.host() + ":" + pooler.port() + "/pgbouncer", props);
             Statement sql = console.createStatement(); ResultSet pools = sql.executeQuery("SHOW POOLS")) {
            while (pools.next()) {
                if (!database.pgDatabase().equals(pools.getString("database"))) {
                    continue;
                }
                clientsActive += pools.getLong("cl_active");
                clientsWaiting += pools.getLong("cl_waiting");
                serversActive += pools.getLong("sv_active");
                serversIdle += pools.getLong("sv_idle") + pools.getLong("sv_used") + pools.getLong("sv_tested") + pools.getLong("sv_login");
            }
        }
        return new Stats(pooler.port(), "transaction", PgBouncerConfig.poolSize(plans.require(database.plan()).connections()),
                clientsActive, clientsWaiting, serversActive, serversIdle);
    }
}
