package dev.keel.lifecycle;

import dev.keel.RandomStrings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * An upgrade's stream role may log in, stream and read every row of the old server's database:
 * pg_hba admits it from Keel's hosts only (where the new server that subscribes runs), as it does
 * the replication roles, not from anywhere as the database's own roles. Real connections to a real
 * server: the shared Keel's instances listen on 127.0.0.1, and Keel's address there is
 * 127.0.0.1/32, so a client bound to 127.0.0.2 is a host that is not Keel's.
 */
@ExtendWith(SharedKeel.class)
class UpgradeStreamAccessTest {

    @Test
    void theStreamRoleIsAdmittedFromKeelsAddressAndRefusedFromAnyOther(TestKeel keel) throws Exception {
        Api team = keel.newTeam("upgrade-stream-access");
        UUID id = UUID.fromString(team.provision("{\"plan\":\"standard-0\"}").get("id").asText());
        try {
            Database database = keel.bean(DatabaseLookup.class).find(id).orElseThrow();
            Instance server = keel.bean(InstanceRepository.class).primary(id).orElseThrow();
            String role = LogicalCopy.name(id);
            String password = RandomStrings.alphanumeric(32);
            try (Connection superuser = keel.bean(InstanceConnections.class).open(server, "postgres").pinnedConnection()) {
                UpgradeStreamSql.createStreamRole(superuser, role, password, database.pgDatabase());
            }
            String url = "jdbc:postgresql://" + server.host() + ":" + server.port() + "/" + database.pgDatabase();

            try (Connection fromKeel = DriverManager.getConnection(url, as(role, password, "127.0.0.1"));
                 Statement statement = fromKeel.createStatement(); ResultSet rows = statement.executeQuery("select current_user")) {
                rows.next();
                assertThat(rows.getString(1)).as("the stream role from Keel's address").isEqualTo(role);
            }
            SQLException refused = catchThrowableOfType(SQLException.class,
                    () -> DriverManager.getConnection(url, as(role, password, "127.0.0.2")).close());
            assertThat((Throwable) refused).as("the stream role from another address is refused").isNotNull();
            assertThat(refused.getSQLState()).isEqualTo("28000");
            assertThat(refused.getMessage()).contains("pg_hba.conf rejects connection for host \"127.0.0.2\", user \"" + role + "\"");
        } finally {
            assertThat(team.delete("/v1/databases/" + id).status()).isEqualTo(202);
        }
    }

    /** The role's login over TLS, from a client socket bound to {@code source}. */
    private static Properties as(String role, String password, String source) {
        Properties props = new Properties();
        props.setProperty("user", role);
        props.setProperty("password", password);
        props.setProperty("sslmode", "require");
        props.setProperty("localSocketAddress", source);
        return props;
    }
}
