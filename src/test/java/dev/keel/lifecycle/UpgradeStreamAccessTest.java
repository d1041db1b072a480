package dev.keel.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Network;
import dev.keel.RandomStrings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.ServerSettings;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConfig;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceMaker;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.Reconfiguration;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.ServerSession;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
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

    @Test
    void anUpgradeGivesAServerMadeBeforeTheRuleItsPgHbaBeforeTheStreamBegins(TestKeel keel) throws Exception {
        Api team = keel.newTeam("upgrade-stream-hba");
        UUID id = UUID.fromString(team.provision("{\"plan\":\"standard-0\",\"version\":\"14\"}").get("id").asText());
        try {
            Database database = keel.bean(DatabaseLookup.class).find(id).orElseThrow();
            Instance old = keel.bean(InstanceRepository.class).primary(id).orElseThrow();
            // pg_hba as an earlier version wrote it: no rule of the stream's group, so its role would match the database's own.
            List<HbaRule> earlier = InstanceConfig.hba(database.pgDatabase(), keel.bean(Network.class).keelSources()).stream()
                    .filter(rule -> !rule.user().equals("+" + ServerSession.UPGRADE_STREAM_GROUP)).toList();
            keel.bean(Reconfiguration.class).apply(old, keel.bean(InstanceMaker.class).settings(old,
                    keel.bean(ServerSettings.class).of(database)), earlier);
            InstanceConnections connections = keel.bean(InstanceConnections.class);
            assertThat(streamGroupRules(connections, old)).as("the stream group's rules before the upgrade").isZero();
            awaitInitialBackup(team, id.toString()); // the upgrade's own first backup on the new major would meet it running

            Api.Response started = team.post("/v1/databases/" + id + "/upgrade", "{\"version\":17}");
            assertThat(started.status()).as(started.toString()).isEqualTo(202);
            String operation = started.field("operation_id");
            boolean held = Wait.until("the old server's pg_hba naming the stream's group, or the upgrade's end", Timeouts.UPGRADE, () -> {
                try {
                    if (streamGroupRules(connections, old) > 0) {
                        return Optional.of(true);
                    }
                } catch (SQLException | IllegalStateException e) {
                    // the old server is gone (its catalog row too): the upgrade's end tells
                }
                return team.get("/v1/operations/" + operation).field("state").equals("running") ? Optional.empty() : Optional.of(false);
            });
            assertThat(held).as("the old server's pg_hba held the stream's role to Keel's hosts while the upgrade ran").isTrue();
            JsonNode done = UpgradeTest.awaitOperation(team, operation);
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        } finally {
            assertThat(team.delete("/v1/databases/" + id).status()).isEqualTo(202);
        }
    }

    /** The rules of the old server's pg_hba.conf that name the stream's group. */
    private static long streamGroupRules(InstanceConnections connections, Instance server) throws SQLException {
        try (Connection superuser = connections.open(server, "postgres").pinnedConnection(); Statement statement = superuser.createStatement();
             ResultSet rows = statement.executeQuery("select count(*) from pg_catalog.pg_hba_file_rules where '+"
                     + ServerSession.UPGRADE_STREAM_GROUP + "' = any(user_name)")) {
            rows.next();
            return rows.getLong(1);
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
