package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What an owner sets on its database ({@code ALTER DATABASE ... SET}, which every session there
 * starts with, Keel's too) does not reach Keel's own sessions: not a role, not a timeout that
 * would end Keel's work (an idle session, a transaction, a statement), not read-only, not a
 * search_path, not backslashes read as escapes.
 */
@ExtendWith(SharedKeel.class)
class KeelSessionPinsTest {

    @Test
    void settingsAnOwnerPutsOnItsDatabaseDoNotReachKeelsSessions(TestKeel keel) throws Exception {
        Api team = keel.newTeam("session-pins");
        JsonNode created = team.provision("{\"plan\":\"standard-0\"}");
        UUID id = UUID.fromString(created.get("id").asText());
        String url = created.get("url").asText();
        Instance server = keel.bean(InstanceRepository.class).primary(id).orElseThrow();
        boolean seventeen = server.major() >= 17;
        try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
            String database = Pg.scalar(owner, "select current_database()");
            String role = Pg.scalar(owner, "select current_user");
            for (String setting : new String[] {"role = '" + role + "'", "search_path = public", "idle_session_timeout = '1s'",
                    "idle_in_transaction_session_timeout = '1s'", "statement_timeout = '1ms'", "lock_timeout = '1ms'",
                    "default_transaction_read_only = on", "standard_conforming_strings = off"}) {
                sql.execute("alter database \"" + database + "\" set " + setting);
            }
            if (seventeen) {
                sql.execute("alter database \"" + database + "\" set transaction_timeout = '1ms'");
            }
            try (Connection keelSession = keel.bean(InstanceConnections.class).open(server, database).pinnedConnection();
                 Statement keels = keelSession.createStatement()) {
                assertThat(value(keels, "select current_user")).isEqualTo("keel");
                assertThat(value(keels, "show search_path")).isEqualTo("pg_catalog,pg_temp");
                assertThat(value(keels, "show idle_session_timeout")).isEqualTo("0");
                assertThat(value(keels, "show idle_in_transaction_session_timeout")).isEqualTo("0");
                assertThat(value(keels, "show statement_timeout")).isEqualTo("0");
                assertThat(value(keels, "show lock_timeout")).isEqualTo("0");
                assertThat(value(keels, "show default_transaction_read_only")).isEqualTo("off");
                assertThat(value(keels, "show standard_conforming_strings")).isEqualTo("on");
                assertThat(value(keels, "select length('a\\b')")).as("a backslash is itself").isEqualTo("3");
                if (seventeen) {
                    assertThat(value(keels, "show transaction_timeout")).isEqualTo("0");
                }
                Thread.sleep(1500);
                assertThat(value(keels, "select pg_catalog.pg_sleep(0.01)::text")).as("idle past the owner's 1 s: still there").isEmpty();
            }
        } finally {
            assertThat(team.delete("/v1/databases/" + id).status()).isEqualTo(202);
        }
    }

    private static String value(Statement statement, String query) throws SQLException {
        try (ResultSet rows = statement.executeQuery(query)) {
            rows.next();
            return rows.getString(1);
        }
    }
}
