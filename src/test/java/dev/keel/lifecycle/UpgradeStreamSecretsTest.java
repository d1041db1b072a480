package dev.keel.lifecycle;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.RandomStrings;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * An upgrade's stream holds a secret the tenant must never get: the password of a role on the
 * old server that may log in, stream and read every row. Its subscription's statement, which
 * carries that password, never reaches the server's log (which the tenant reads), even when it
 * fails; and the role goes with the stream, although it holds CONNECT on the database.
 */
@ExtendWith(SharedKeel.class)
class UpgradeStreamSecretsTest {

    @Test
    void theStreamRolesPasswordNeverReachesTheLogAndTheRoleGoesWithTheStream(TestKeel keel) throws Exception {
        Api team = keel.newTeam("upgrade-secrets");
        JsonNode created = team.provision("{\"plan\":\"standard-0\"}");
        UUID id = UUID.fromString(created.get("id").asText());
        Database database = keel.bean(DatabaseLookup.class).find(id).orElseThrow();
        Instance server = keel.bean(InstanceRepository.class).primary(id).orElseThrow();
        InstanceConnections connections = keel.bean(InstanceConnections.class);
        String role = LogicalCopy.name(id);
        String password = "Secret" + RandomStrings.alphanumeric(26);
        try (Connection superuser = connections.open(server, "postgres").pinnedConnection();
             Connection onDatabase = connections.open(server, database.pgDatabase()).pinnedConnection()) {
            UpgradeStreamSql.createStreamRole(superuser, role, password, database.pgDatabase());
            UpgradeStreamSql.createPublication(onDatabase);
            assertThat(roleExists(superuser, role)).isTrue();

            // A subscription whose publisher does not answer fails, as one whose publisher a tenant holds up would.
            String conninfo = "host=127.0.0.1 port=1 dbname=" + database.pgDatabase() + " user=" + role + " password=" + password
                    + " sslmode=disable connect_timeout=2";
            SQLException failed = catchThrowableOfType(SQLException.class,
                    () -> UpgradeStreamSql.createSubscription(onDatabase, conninfo, role));
            assertThat((Throwable) failed).as("the subscription failed").isNotNull();
            assertThat(failed.getMessage()).contains("could not connect to the publisher").doesNotContain(password);
            assertThat(show(onDatabase, "log_min_error_statement")).as("the session's logging is as it was").isEqualTo("error");

            // A table copy's slot, as a subscription discarded with its new server leaves on the old one.
            String tableSync = "pg_16999_sync_16998_7000000000000000001";
            try (Statement statement = onDatabase.createStatement()) {
                statement.execute("select pg_catalog.pg_create_logical_replication_slot('" + tableSync + "', 'pgoutput')");
            }
            UpgradeStreamSql.dropPublishing(superuser, onDatabase, role, role);
            assertThat(roleExists(superuser, role)).as("the stream's role is dropped with its CONNECT").isFalse();
            assertThat(scalar(superuser, "select count(*) from pg_catalog.pg_replication_slots where slot_name = '" + tableSync + "'"))
                    .as("the table copy's slot, which would hold WAL").isEqualTo("0");
            UpgradeStreamSql.dropPublishing(superuser, onDatabase, role, role); // again, as a retry would: nothing left to drop
        }

        // The tenant's view of the server's log: the failure is there, its statement is not.
        String base = "/v1/databases/" + id + "/logs?lines=1000";
        JsonNode log = Wait.until("the subscription's failure in the log", Timeouts.REQUEST, () -> {
            Api.Response r = team.get(base);
            return r.status() == 200 && r.text().contains("could not connect to the publisher") ? Optional.of(r.json()) : Optional.empty();
        });
        assertThat(log.toString()).doesNotContain(password).doesNotContainIgnoringCase("create subscription");

        // A role an earlier version could not drop (an upgrade that failed before it) is dropped as a node starts.
        try (Connection superuser = connections.open(server, "postgres").pinnedConnection()) {
            UpgradeStreamSql.createStreamRole(superuser, role, password, database.pgDatabase());
            assertThat(keel.bean(UpgradeLeftovers.class).sweep()).contains(role);
            assertThat(roleExists(superuser, role)).isFalse();
        }
        assertThat(team.delete("/v1/databases/" + id).status()).isEqualTo(202);
    }

    private static boolean roleExists(Connection superuser, String role) throws SQLException {
        try (Statement statement = superuser.createStatement();
             ResultSet rows = statement.executeQuery("select count(*) from pg_catalog.pg_roles where rolname = '" + role + "'")) {
            rows.next();
            return rows.getLong(1) == 1;
        }
    }

    private static String show(Connection connection, String setting) throws SQLException {
        return scalar(connection, "show " + setting);
    }

    private static String scalar(Connection connection, String query) throws SQLException {
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery(query)) {
            rows.next();
            return rows.getString(1);
        }
    }
}
