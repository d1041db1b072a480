package dev.keel.tenancy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.credentials.ConnectionUrl;
import dev.keel.credentials.Credentials;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import static dev.keel.testing.Logins.assertConnects;
import static dev.keel.testing.Logins.assertPasswordRefused;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A fork, a rollback and an unfollowed follower end with every login role on their servers known
 * to their own catalog with a new password, or dropped: a credential destroyed after the copied
 * moment never logs in again, and no password of the source opens the copy.
 */
@ExtendWith(SharedKeel.class)
class CopiesCarryNoStaleSecretsTest {
    @Test
    void aRollbackDropsACredentialDestroyedSinceAndAForkRenewsTheOnesThatLive(TestKeel keel) throws Exception {
        Api api = keel.newTeam("copies-" + System.nanoTime());
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        String id = db.get("id").asText();
        List<String> made = new ArrayList<>();
        try {
            awaitInitialBackup(api, id);
            assertThat(api.post("/v1/databases/" + id + "/credentials", "{\"name\":\"gone\"}").status()).isEqualTo(201);
            assertThat(api.post("/v1/databases/" + id + "/credentials", "{\"name\":\"kept\"}").status()).isEqualTo(201);
            String goneUrl = url(keel, id, "gone");
            String keptUrl = url(keel, id, "kept");
            try (Connection connection = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = connection.createStatement()) {
                sql.execute("create table t (n int)");
                sql.execute("grant select on t to gone");
            }
            Thread.sleep(1100);
            Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
            Thread.sleep(1100);
            assertThat(api.delete("/v1/databases/" + id + "/credentials/gone").status()).isEqualTo(204);
            switchAndAwaitArchived(keel, api, id);

            String rollback = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"" + id + "\",\"to\":\"" + before + "\"}")
                    .field("id");
            made.add(rollback);
            String rollbackUrl = api.awaitAvailable(rollback, Timeouts.RESTORE).get("url").asText();
            assertThat(names(api, rollback)).containsExactly("default", "kept");
            assertThat(loginRoles(keel, rollback)).containsExactlyInAnyOrder(user(rollbackUrl), user(keptUrl));
            assertPasswordRefused(keel, onCopy(goneUrl, rollbackUrl));
            assertPasswordRefused(keel, onCopy(keptUrl, rollbackUrl));
            assertPasswordRefused(keel, onCopy(db.get("url").asText(), rollbackUrl));
            assertConnects(keel, url(keel, rollback, "kept"));
            try (Connection connection = Pg.connect(rollbackUrl, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select count(*) from t")).isEqualTo("0"); // it still holds the table
            }

            String fork = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"" + id + "\"}").field("id");
            made.add(fork);
            String forkUrl = api.awaitAvailable(fork, Timeouts.RESTORE).get("url").asText();
            assertThat(names(api, fork)).containsExactly("default", "kept");
            assertPasswordRefused(keel, onCopy(keptUrl, forkUrl));
            assertConnects(keel, url(keel, fork, "kept"));
            assertThat(api.post("/v1/databases/" + fork + "/credentials/kept/rotate", "{}").status()).isEqualTo(200);
            assertThat(api.delete("/v1/databases/" + fork + "/credentials/kept").status()).isEqualTo(204);
            assertThat(loginRoles(keel, fork)).containsExactly(user(forkUrl));

            String follower = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"" + id + "\"}").field("id");
            made.add(follower);
            String followerUrl = api.awaitAvailable(follower, Timeouts.RESTORE).get("url").asText();
            assertThat(api.post("/v1/dataclips", "{\"title\":\"t\",\"database\":\"" + follower + "\",\"sql\":\"select 1\"}").status())
                    .isIn(201, 202);
            assertThat(api.post("/v1/databases/" + follower + "/unfollow", "").status()).isEqualTo(202);
            Wait.until("the follower to be unfollowed", Timeouts.RESTORE, () -> api.get("/v1/databases/" + follower).json()
                    .path("following").isNull() && api.get("/v1/databases/" + follower).json().path("progress").isNull());
            assertThat(names(api, follower)).containsExactly("default", "kept");
            // Neither the leader's replication roles nor its dataclip role log in to it any more.
            assertThat(loginRoles(keel, follower)).containsExactlyInAnyOrder(user(followerUrl), user(keptUrl));
            assertPasswordRefused(keel, onCopy(db.get("url").asText(), followerUrl));
            assertPasswordRefused(keel, onCopy(keptUrl, followerUrl));
            assertConnects(keel, url(keel, follower, "default"));
            assertConnects(keel, url(keel, follower, "kept"));
            assertConnects(keel, db.get("url").asText()); // the leader's own passwords are untouched
            assertConnects(keel, keptUrl);
        } finally {
            for (String copy : made) {
                api.deprovision(copy);
            }
            api.deprovision(id);
        }
    }

    private static List<String> names(Api api, String id) {
        List<String> names = new ArrayList<>();
        api.get("/v1/databases/" + id + "/credentials").json().forEach(c -> names.add(c.get("name").asText()));
        return names;
    }

    /** The URL of credential {@code name} of a database, as the catalog has it now. */
    private static String url(TestKeel keel, String id, String name) {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        String pgDatabase = keel.bean(DatabaseLookup.class).find(UUID.fromString(id)).orElseThrow().pgDatabase();
        ConnectionUrl url = keel.bean(Credentials.class).url(UUID.fromString(id), name, pgDatabase, primary.host(), primary.port())
                .orElseThrow();
        return url.toString();
    }

    /** {@code credentialUrl}'s user and password at {@code copyUrl}'s server and database. */
    private static String onCopy(String credentialUrl, String copyUrl) {
        URI credential = URI.create(credentialUrl);
        URI copy = URI.create(copyUrl);
        return "postgres://" + credential.getRawUserInfo() + "@" + copy.getHost() + ":" + copy.getPort() + copy.getRawPath();
    }

    private static String user(String url) {
        return URI.create(url).getRawUserInfo().split(":", 2)[0];
    }

    private static List<String> loginRoles(TestKeel keel, String id) throws Exception {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
        List<String> roles = new ArrayList<>();
        try (Connection connection = Superuser.connect(keel, primary, "postgres"); Statement sql = connection.createStatement();
             ResultSet rows = sql.executeQuery("select rolname from pg_roles where rolcanlogin and rolname <> 'keel'")) {
            while (rows.next()) {
                roles.add(rows.getString(1));
            }
        }
        return roles;
    }
}
