package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.archive.Sha256;
import dev.keel.postgres.ClientTools;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Optional;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code heroku pg:backups*} of the genuine Heroku CLI ({@code heroku@11.10.0}) against Keel's
 * logical backups: capture, list, info, url, download, restore (from a backup and from a URL),
 * schedule, schedules, unschedule, cancel and delete, each checked by its output and by what it
 * left (the downloaded file's sha256, the restored rows, the backup gone).
 */
@ExtendWith(SharedKeel.class)
class HerokuBackupsCliTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pg_dump", "pg_restore");
    }

    @Test
    void theHerokuCliCapturesDownloadsRestoresSchedulesCancelsAndDeletesBackups(TestKeel keel) throws Exception {
        Api api = keel.newTeam("cli-backups-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"bk\"}").status()).isEqualTo(201);
        try {
            ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "bk", "--confirm", "bk", "--wait", "--", "--version", "15"));
            ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "bk", "--confirm", "bk", "--wait", "--as", "TARGET",
                    "--", "--version", "15"));
            JsonNode vars = api.get("/v1/apps/bk/config-vars").json();
            String url = vars.get("DATABASE_URL").asText();
            String targetUrl = vars.get("TARGET_URL").asText();
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("create table items (id int primary key, name text)");
                sql.execute("insert into items select g, 'item ' || g from generate_series(1, 1000) g");
            }

            HerokuCli.Run capture = ok(heroku.run("pg:backups:capture", "-a", "bk"));
            String name = capture.all().replaceAll("(?s).*Backing up \\S+ to (b\\d{3,})\\.\\.\\. done.*", "$1");
            assertThat(name).as(capture.toString()).matches("b\\d{3,}");
            assertThat(ok(heroku.run("pg:backups", "-a", "bk")).out()).contains("=== Backups").contains(name).contains("Completed")
                    .contains("DATABASE");
            assertThat(ok(heroku.run("pg:backups:info", name, "-a", "bk")).out()).containsPattern("Status:\\s+Completed")
                    .containsPattern("Type:\\s+Manual").contains("=== Backup Logs").contains("pg_dump").contains("backup completed");
            String link = ok(heroku.run("pg:backups:url", name, "-a", "bk")).out().strip();
            assertThat(link).startsWith("https://").contains("/dumps/").contains("signature=");

            Path file = Files.createTempDirectory(TestKeel.workDir(), "download").resolve("latest.dump");
            ok(heroku.run("pg:backups:download", name, "-a", "bk", "-o", file.toString()));
            String sha256 = api.get("/v1/databases/" + api.get("/v1/apps/bk/attachments").json().get(0).get("database_id").asText()
                    + "/logical-backups/" + name).field("sha256");
            assertThat(Sha256.of(Files.readAllBytes(file))).isEqualTo(sha256);

            assertThat(ok(heroku.run("pg:backups:restore", name, "TARGET", "-a", "bk", "--confirm", "bk")).all())
                    .contains("Starting restore of " + name).contains("Restoring... done");
            assertThat(count(keel, targetUrl)).isEqualTo("1000");
            assertThat(ok(heroku.run("pg:backups", "-a", "bk")).out()).contains("=== Restores").containsPattern("r\\d{3,}");
            try (Connection owner = Pg.connect(targetUrl, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("delete from items where id > 10");
            }
            ok(heroku.run("pg:backups:restore", link, "TARGET", "-a", "bk", "--confirm", "bk"));
            assertThat(count(keel, targetUrl)).isEqualTo("1000");

            // pg:copy: the source as it is now replaces what the target holds.
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("insert into items select g, 'item ' || g from generate_series(1001, 1500) g");
            }
            try (Connection owner = Pg.connect(targetUrl, keel.caFile()); Statement sql = owner.createStatement()) {
                sql.execute("delete from items where id > 10");
            }
            assertThat(ok(heroku.run("pg:copy", "DATABASE", "TARGET", "-a", "bk", "--confirm", "TARGET")).all()).contains("Copying... done");
            assertThat(count(keel, targetUrl)).isEqualTo("1500");
            // Only Keel databases of the team are copied from: Keel connects to no other URL.
            HerokuCli.Run outside = heroku.run("pg:copy", "postgres://u:p@169.254.169.254:5432/x", "TARGET", "-a", "bk", "--confirm", "TARGET");
            assertThat(outside.exit()).as(outside.toString()).isNotZero();
            assertThat(outside.all().replaceAll("\\s*\\n\\s*›?\\s*", " ")).contains("pg:copy copies between Keel databases of your team");
            assertThat(count(keel, targetUrl)).isEqualTo("1500");
            // A backup of another app of the team, as app::b001.
            String targetId = StreamSupport.stream(api.get("/v1/apps/bk/attachments").json().spliterator(), false)
                    .filter(a -> a.get("name").asText().equals("TARGET")).findFirst().orElseThrow().get("database_id").asText();
            assertThat(api.post("/v1/apps", "{\"name\":\"bk2\"}").status()).isEqualTo(201);
            assertThat(api.post("/v1/apps/bk2/attachments", "{\"database\":\"" + targetId + "\"}").status()).isEqualTo(201);
            assertThat(ok(heroku.run("pg:backups:restore", "bk::" + name, "DATABASE", "-a", "bk2", "--confirm", "bk2")).all())
                    .contains("Restoring... done");
            assertThat(count(keel, targetUrl)).isEqualTo("1000");

            ok(heroku.run("pg:backups:schedule", "DATABASE_URL", "--at", "02:00 America/New_York", "-a", "bk"));
            assertThat(ok(heroku.run("pg:backups:schedules", "-a", "bk")).out())
                    .contains("DATABASE_URL: daily at 2:00 America/New_York");
            ok(heroku.run("pg:backups:unschedule", "DATABASE_URL", "-a", "bk"));
            assertThat(ok(heroku.run("pg:backups:schedules", "-a", "bk")).all()).contains("No backup schedules found");

            String database = api.get("/v1/apps/bk/attachments").json().get(0).get("database_id").asText();
            try (Connection owner = Pg.connect(url, keel.caFile()); Statement sql = owner.createStatement()) {
                owner.setAutoCommit(false);
                sql.execute("lock table items in access exclusive mode"); // pg_dump waits for it
                Api.Response started = api.post("/v1/databases/" + database + "/logical-backups", "");
                assertThat(started.status()).as(started.toString()).isEqualTo(202);
                String path = "/v1/databases/" + database + "/logical-backups/" + started.field("id");
                Wait.until("pg_dump to start", Timeouts.LOGICAL_BACKUP, () -> api.get(path).text().contains(" started on "));
                assertThat(ok(heroku.run("pg:backups:cancel", "-a", "bk")).all()).contains("Cancelling " + started.field("name") + "... done");
                owner.rollback();
                JsonNode canceled = Wait.until("the backup to be canceled", Timeouts.LOGICAL_BACKUP, () -> {
                    JsonNode b = api.get(path).json();
                    return b.get("state").asText().equals("canceled") ? Optional.of(b) : Optional.empty();
                });
                assertThat(canceled.get("sha256").isNull()).isTrue();
            }

            assertThat(ok(heroku.run("pg:backups:delete", name, "-a", "bk", "--confirm", "bk")).all())
                    .contains("Deleting backup " + name + " on bk... done");
            assertThat(ok(heroku.run("pg:backups", "-a", "bk")).out()).doesNotContain(name + " ");
            assertThat(api.get("/v1/databases/" + database + "/logical-backups/" + name).status()).isEqualTo(404);
        } finally {
            for (JsonNode db : api.get("/v1/databases").json()) {
                api.deprovision(db.get("id").asText());
            }
        }
    }

    @Test
    void aDatabaseNewerThanTheClientToolsIsRefusedWithTheVersionNeeded(TestKeel keel) throws Exception {
        int client = keel.bean(ClientTools.class).newest("pg_dump").orElseThrow().major();
        Assumptions.assumeTrue(client < 18, "pg_dump " + client + " dumps every major Keel serves");
        Api api = keel.newTeam("cli-backups-new-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        assertThat(api.post("/v1/apps", "{\"name\":\"newer\"}").status()).isEqualTo(201);
        try {
            ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "newer", "--confirm", "newer", "--wait", "--",
                    "--version", Integer.toString(client + 1)));
            HerokuCli.Run refused = heroku.run("pg:backups:capture", "-a", "newer");
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.err()).contains("pg_dump " + (client + 1) + " or newer");
        } finally {
            for (JsonNode db : api.get("/v1/databases").json()) {
                api.deprovision(db.get("id").asText());
            }
        }
    }

    private static String count(TestKeel keel, String url) throws Exception {
        try (Connection owner = Pg.connect(url, keel.caFile())) {
            return Pg.scalar(owner, "select count(*) from items");
        }
    }

    /** A run that succeeded and printed no raw problem document or stack trace (HerokuCommandWalk leaves these commands to this class). */
    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        assertThat(run.printsRaw()).as(run.toString()).isFalse();
        return run;
    }
}
