package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code heroku pg:settings*}: each setting is kept per database, applied with a reload (the
 * server runs with it at once, as {@code pg_settings} shows), and still in force after what
 * rewrites a server's configuration: a follower and a fork start with their source's, a plan
 * change and a switchover to the HA standby keep them. A follower's own change stays its own.
 */
@ExtendWith(SharedKeel.class)
class HerokuSettingsCliTest {
    private static final Map<String, String> EXPECTED = Map.of("log_statement", "ddl", "log_min_duration_statement", "250",
            "log_lock_waits", "on", "track_functions", "pl", "session_preload_libraries", "auto_explain",
            "auto_explain.log_min_duration", "100", "auto_explain.log_format", "json");

    @Test
    void settingsApplyAtOnceAndSurviveFollowersForksPlanChangesAndFailover(TestKeel keel) throws Exception {
        Api api = keel.newTeam("settings-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"shop\"}").status()).isEqualTo(201);
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop", "--wait"));
        String id = api.get("/v1/databases").json().get(0).get("id").asText();

        assertThat(ok(heroku.run("pg:settings:log-statement", "DATABASE", "ddl", "-a", "shop")).out())
                .contains("log-statement has been set to ddl for").contains("All data definition statements");
        ok(heroku.run("pg:settings:log-min-duration-statement", "DATABASE", "250", "-a", "shop"));
        ok(heroku.run("pg:settings:log-lock-waits", "DATABASE", "on", "-a", "shop"));
        ok(heroku.run("pg:settings:track-functions", "DATABASE", "pl", "-a", "shop"));
        assertThat(ok(heroku.run("pg:settings:auto-explain", "DATABASE", "on", "-a", "shop")).out())
                .contains("Execution plans of queries will be logged for future connections.");
        ok(heroku.run("pg:settings:auto-explain:log-min-duration", "DATABASE", "100", "-a", "shop"));
        ok(heroku.run("pg:settings:auto-explain:log-format", "DATABASE", "json", "-a", "shop"));
        HerokuCli.Run invalid = heroku.run("pg:settings:log-min-duration-statement", "DATABASE", "soon", "-a", "shop");
        assertThat(invalid.exit()).isNotZero();
        assertThat(invalid.err()).contains("log_min_duration_statement is a whole number of milliseconds").contains("Error ID: invalid_params");
        // A number too large for a double (it arrives as Infinity) is refused as any other, not answered with a 500.
        String addon = api.get("/v1/databases/" + id).field("name");
        for (String huge : new String[] {"1e309", "-1e309"}) {
            Api.Response refused = api.patch("/postgres/v0/databases/" + addon + "/config", "{\"log_min_duration_statement\": " + huge + "}");
            assertThat(refused.status()).as(huge).isEqualTo(422);
            assertThat(refused.field("message")).as(huge).contains("log_min_duration_statement is a whole number of milliseconds");
        }
        assertThat(ok(heroku.run("pg:settings", "-a", "shop")).out()).containsPattern("log-statement:\\s+ddl")
                .containsPattern("auto-explain:\\s+true").containsPattern("log-connections:\\s+false");
        assertThat(running(keel, id)).containsAllEntriesOf(EXPECTED);

        // A follower and a fork start with their source's settings; a follower's own change stays its own.
        String follower = created(ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop",
                "--wait", "--", "--follow", "DATABASE")));
        String fork = created(ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "shop", "--confirm", "shop",
                "--wait", "--", "--fork", "DATABASE")));
        String followerId = api.get("/v1/databases/" + follower).field("id");
        String forkId = api.get("/v1/databases/" + fork).field("id");
        assertThat(running(keel, followerId)).containsAllEntriesOf(EXPECTED);
        assertThat(running(keel, forkId)).containsAllEntriesOf(EXPECTED);
        assertThat(ok(heroku.run("pg:settings", follower, "-a", "shop")).out()).containsPattern("log-statement:\\s+ddl");
        ok(heroku.run("pg:settings:log-lock-waits", follower, "off", "-a", "shop"));
        assertThat(running(keel, followerId)).containsEntry("log_lock_waits", "off").containsEntry("log_statement", "ddl");
        assertThat(running(keel, id)).containsEntry("log_lock_waits", "on");

        // A plan change, then a switchover to the HA standby it brings: the new primary runs with them.
        assertThat(ok(heroku.run("addons:upgrade", "DATABASE", "premium-0", "-a", "shop")).all())
                .contains("Keel is applying plan premium-0 (no restart).");
        ok(heroku.run("pg:wait", "-a", "shop"));
        assertThat(api.get("/v1/databases/" + id).field("plan")).isEqualTo("premium-0");
        assertThat(running(keel, id)).containsAllEntriesOf(EXPECTED);
        Wait.until("the HA standby of " + id + " to stream", Timeouts.HA_STANDBY,
                () -> "Available".equals(api.get("/v1/databases/" + id + "/ha").field("status")));
        UUID before = primary(keel, id).id();
        Api.Response switched = api.post("/v1/databases/" + id + "/failover", "");
        assertThat(switched.status()).as(switched.toString()).isEqualTo(202);
        JsonNode done = Wait.until("the switchover to finish", Timeouts.SWITCHOVER, () -> {
            JsonNode op = api.get("/v1/operations/" + switched.field("operation_id")).json();
            return op.get("state").asText().equals("running") ? Optional.empty() : Optional.of(op);
        });
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(primary(keel, id).id()).isNotEqualTo(before);
        assertThat(running(keel, id)).containsAllEntriesOf(EXPECTED);

        api.deprovision(forkId);
        api.deprovision(followerId);
        api.deprovision(id);
    }

    /** The settings the database's server runs with now, as Keel's superuser sees them in a new session. */
    private static Map<String, String> running(TestKeel keel, String databaseId) throws Exception {
        Instance server = primary(keel, databaseId);
        Map<String, String> settings = new TreeMap<>();
        try (Connection connection = Superuser.connect(keel, server, "postgres");
             PreparedStatement query = connection.prepareStatement("select name, setting from pg_catalog.pg_settings where name = any(?)")) {
            query.setArray(1, connection.createArrayOf("text", EXPECTED.keySet().toArray()));
            try (ResultSet rows = query.executeQuery()) {
                while (rows.next()) {
                    settings.put(rows.getString(1), rows.getString(2));
                }
            }
        }
        return settings;
    }

    private static Instance primary(TestKeel keel, String databaseId) {
        return keel.bean(InstanceRepository.class).primary(UUID.fromString(databaseId)).orElseThrow();
    }

    private static String created(HerokuCli.Run run) {
        return run.all().replaceAll("(?s).*Created (postgresql-[a-z]+-\\d+) as .*", "$1");
    }

    /** A run that succeeded and printed no raw problem document or stack trace (HerokuCommandWalk leaves these commands to this class). */
    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.printsRaw()).as(run.toString()).isFalse();
        return run;
    }
}
