package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;

/** A clip of a database with a follower runs on the follower, and says so; without one it runs on the primary. */
@ExtendWith(SharedKeel.class)
class DataclipFollowerTest {
    private static final Duration CATCH_UP = Duration.ofSeconds(60);

    @Test
    void aClipRunsOnTheFollowerOfItsDatabaseWhenThereIsOne(TestKeel keel) throws Exception {
        Api api = keel.newTeam("follow-" + UUID.randomUUID().toString().substring(0, 8));
        JsonNode leader = api.provision("{\"plan\":\"standard-0\"}");
        String leaderId = leader.get("id").asText();
        try (Connection c = Pg.connect(leader.get("url").asText(), keel.caFile()); Statement sql = c.createStatement()) {
            sql.execute("create table events (id int primary key)");
            sql.execute("insert into events select generate_series(1, 10)");
        }
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"Events\",\"database\":\"" + leaderId
                + "\",\"sql\":\"select count(*) as n, pg_is_in_recovery() as replica from events\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String clip = created.field("id");
        assertThat(created.json().get("result").get("ran_on").get("role").asText()).isEqualTo("primary");
        assertThat(created.json().get("result").get("ran_on").get("database_id").asText()).isEqualTo(leaderId);

        awaitInitialBackup(api, leaderId);
        Api.Response follow = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + leaderId + "\"}");
        assertThat(follow.status()).as(follow.toString()).isEqualTo(202);
        String followerId = follow.field("id");
        api.awaitAvailable(followerId, Timeouts.RESTORE);

        try (Connection c = Pg.connect(leader.get("url").asText(), keel.caFile()); Statement sql = c.createStatement()) {
            sql.execute("insert into events select generate_series(11, 15)");
        }
        // The follower answers once it has replayed the new rows (and the dataclip role, made on the leader).
        JsonNode onFollower = Wait.until("the clip to run on the follower and see the new rows", CATCH_UP, () -> {
            JsonNode result = api.post("/v1/dataclips/" + clip + "/refresh", "").json();
            return "follower".equals(result.path("ran_on").path("role").asText()) ? Optional.of(result) : Optional.empty();
        });
        assertThat(onFollower.get("ran_on").get("database_id").asText()).isEqualTo(followerId);
        String url = api.post("/v1/dataclips/" + clip + "/share", "").field("url");
        String csv = Wait.until("the follower to have replayed the new rows", CATCH_UP, () -> {
            String text = api.post("/v1/dataclips/" + clip + "/refresh", "").json().path("row_count").isNumber()
                    ? api.withKey(null).get(java.net.URI.create(url).getRawPath() + ".csv").text() : "";
            return text.equals("n,replica\r\n15,t\r\n") ? Optional.of(text) : Optional.empty();
        });
        assertThat(csv).isEqualTo("n,replica\r\n15,t\r\n");
        assertThat(api.withKey(null).get(java.net.URI.create(url).getRawPath()).text()).contains("on the follower");
    }
}
