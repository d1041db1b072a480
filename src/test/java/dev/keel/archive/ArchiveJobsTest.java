package dev.keel.archive;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.keel.testing.ArchiveWaits.awaitBackup;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import static org.assertj.core.api.Assertions.assertThat;

/** The archive's scheduled work: daily backups at each database's hour, retention, and the continuity check Quartz runs. */
class ArchiveJobsTest {
    private static TestKeel keel;

    @BeforeAll
    static void start() {
        // Every test waits for its database's first backup: it starts a second after the database is available, not the default 5 s.
        keel = TestKeel.start("archive-jobs", Map.of("keel.archive.check-interval", "1s", "keel.instances.pool.size", 0,
                "keel.archive.first-backup-delay", "1s"));
    }

    @AfterAll
    static void stop() {
        keel.close();
    }

    private Database database(String id) {
        return keel.bean(DatabaseLookup.class).find(UUID.fromString(id)).orElseThrow();
    }

    @Test
    void theBackupHourDefaultsPerDatabaseAndCanBeChosen() {
        Api api = keel.api();
        String id = api.post("/v1/databases", "{\"plan\":\"essential-0\"}").field("id");
        JsonNode schedule = api.get("/v1/databases/" + id + "/backup-schedule").json();
        assertThat(schedule.get("hour").asInt()).isBetween(0, 23);
        assertThat(schedule.get("timezone").asText()).isEqualTo("UTC");
        Api.Response changed = api.send(api.request("/v1/databases/" + id + "/backup-schedule")
                .header("Content-Type", "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"hour\":5}")));
        assertThat(changed.status()).isEqualTo(200);
        assertThat(api.get("/v1/databases/" + id + "/backup-schedule").json().get("hour").asInt()).isEqualTo(5);
        for (String bad : List.of("{\"hour\":24}", "{\"hour\":-1}", "{}")) {
            Api.Response refused = api.send(api.request("/v1/databases/" + id + "/backup-schedule")
                    .header("Content-Type", "application/json").PUT(java.net.http.HttpRequest.BodyPublishers.ofString(bad)));
            assertThat(refused.status()).as(bad).isEqualTo(422);
            assertThat(refused.field("detail")).isEqualTo("\"hour\" is the UTC hour of the daily backup, 0 to 23.");
        }
        assertThat(keel.newTeam("schedule-other-" + System.nanoTime()).get("/v1/databases/" + id + "/backup-schedule").status()).isEqualTo(404);
        api.awaitAvailable(id);
        awaitInitialBackup(api, id);
        api.deprovision(id);
    }

    @Test
    void aDatabaseIsBackedUpInItsHourOnceADay() {
        Api api = keel.api();
        String id = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        UUID database = UUID.fromString(id);
        awaitInitialBackup(api, id);
        Instant now = Instant.now();
        keel.bean(BackupSchedules.class).setHour(database, now.atZone(ZoneOffset.UTC).getHour());
        ScheduledBackups scheduled = keel.bean(ScheduledBackups.class);

        // Its hour, but the first backup finished moments ago.
        assertThat(scheduled.dispatch(now)).noneMatch(b -> b.databaseId().equals(database));
        // A day later, in its hour: due.
        List<Backup> started = scheduled.dispatch(now.plus(Duration.ofDays(1)));
        assertThat(started).filteredOn(b -> b.databaseId().equals(database)).singleElement()
                .satisfies(b -> assertThat(b.kind()).isEqualTo(BackupKind.SCHEDULED));
        awaitBackup(api, id, started.stream().filter(b -> b.databaseId().equals(database)).findFirst().orElseThrow().id().toString());
        // Not its hour: nothing, however old the newest backup.
        assertThat(scheduled.dispatch(now.plus(Duration.ofDays(2)).plus(Duration.ofHours(1)))).noneMatch(b -> b.databaseId().equals(database));
        api.deprovision(id);
    }

    @Test
    void retentionKeepsExactlyTheWindowTheNewestAndYoungManualBackups() throws Exception {
        Api api = keel.api();
        JsonNode created = api.provision("{\"plan\":\"standard-0\"}");
        String id = created.get("id").asText();
        String initial = awaitInitialBackup(api, id).get("id").asText();
        write(created, "first");
        switchAndAwaitArchived(keel, id);
        JsonNode manualOld = awaitBackup(api, id, api.post("/v1/databases/" + id + "/backups", "").field("id"));
        write(created, "second");
        switchAndAwaitArchived(keel, id);
        JsonNode newest = awaitBackup(api, id, api.post("/v1/databases/" + id + "/backups", "").field("id"));
        UUID database = UUID.fromString(id);
        List<String> walBefore = keel.bean(ArchiveRepository.class).files(database).stream().map(ArchivedWal::name).toList();

        // Five days on: the 4-day window starts after every backup, so its base is the newest one;
        // the old manual backup stays (25-day retention) with its own WAL; the initial one goes.
        Retention.Removed removed = keel.bean(Retention.class).apply(database(id), Instant.now().plus(Duration.ofDays(5)));
        assertThat(removed.backups()).extracting(b -> b.id().toString()).containsExactly(initial);
        assertThat(api.get("/v1/databases/" + id + "/backups").json()).extracting(b -> b.get("id").asText())
                .containsExactlyInAnyOrder(manualOld.get("id").asText(), newest.get("id").asText());
        ObjectStore store = keel.bean(ObjectStore.class);
        assertThat(store.list(ArchiveLayout.backupPrefix(database, UUID.fromString(initial)))).isEmpty();
        List<String> walAfter = keel.bean(ArchiveRepository.class).files(database).stream().map(ArchivedWal::name).toList();
        assertThat(removed.walFiles()).isNotEmpty().doesNotContainAnyElementsOf(walAfter);
        // WAL goes on arriving meanwhile (the newest backup's history file, a timed switch): retention
        // removed only files that were there before, and kept every other one.
        assertThat(walBefore).containsAll(removed.walFiles());
        assertThat(walAfter).containsAll(walBefore.stream().filter(name -> !removed.walFiles().contains(name)).toList());
        for (String name : removed.walFiles()) {
            assertThat(store.head(ArchiveLayout.walKey(database, name))).as(name).isEmpty();
        }
        JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
        // The window opens when the backup was consistent: by its stop segment's completion, at the latest when it finished.
        assertThat(java.time.Instant.parse(archive.get("window").get("from").asText()))
                .isAfter(java.time.Instant.parse(newest.get("started_at").asText()))
                .isBeforeOrEqualTo(java.time.Instant.parse(newest.get("finished_at").asText()))
                .isBeforeOrEqualTo(java.time.Instant.parse(archive.get("window").get("to").asText()));
        assertThat(archive.get("gaps")).isEmpty();

        // A month on, the manual backup is past retention too: only the newest remains.
        Retention.Removed later = keel.bean(Retention.class).apply(database(id), Instant.now().plus(Duration.ofDays(30)));
        assertThat(later.backups()).extracting(b -> b.id().toString()).containsExactly(manualOld.get("id").asText());
        assertThat(api.get("/v1/databases/" + id + "/backups").json()).extracting(b -> b.get("id").asText())
                .containsExactly(newest.get("id").asText());
        api.deprovision(id);
    }

    /** Whether Postgres's archive_command took {@code name} (or a later file) from the server. */
    private static boolean handedOff(Instance primary, String name) {
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            String last = Pg.scalar(connection, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
            return last.compareTo(name) >= 0;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private void write(JsonNode database, String phase) throws Exception {
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile()); var sql = connection.createStatement()) {
            sql.execute("create table if not exists phases (phase text); insert into phases values ('" + phase + "')");
        }
    }

    @Test
    void quartzRunsTheContinuityCheckWhichFindsAnObjectDeletedBehindKeelsBack() {
        Api api = keel.api();
        String id = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
        awaitInitialBackup(api, id);
        Wait.until("the scheduled continuity check to run", Timeouts.PROVISION,
                () -> !api.get("/v1/databases/" + id + "/archive").json().get("checked_at").isNull());
        JsonNode checked = api.get("/v1/databases/" + id + "/archive").json();
        assertThat(checked.get("missing").isNull()).as(checked.toString()).isTrue();

        ObjectStore store = keel.bean(ObjectStore.class);
        UUID database = UUID.fromString(id);
        String lost = store.list(ArchiveLayout.walPrefix(database)).stream().map(ObjectInfo::key).findFirst().orElseThrow();
        String name = lost.substring(ArchiveLayout.walPrefix(database).length(), lost.length() - ".zst".length());
        // Two paths archive each segment (the WAL stream, and archive_command through the spool), and the later one stores it
        // again if it finds it gone, as it should: the object is taken away once neither has it left to ship.
        Instance primary = keel.bean(InstanceRepository.class).primary(database).orElseThrow();
        Wait.until("archive_command to have handed " + name + " to Keel and Keel to have shipped it", Timeouts.PROVISION,
                () -> handedOff(primary, name) && keel.bean(InstanceRuntime.class).spooledWal(primary).stream()
                        .noneMatch(file -> file.name().compareTo(name) <= 0));
        store.delete(List.of(lost));
        JsonNode[] last = {null};
        JsonNode archive = Wait.until("the check to report the lost object", Timeouts.PROVISION, () -> {
            JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
            last[0] = a;
            return a.get("missing").isNull() ? java.util.Optional.empty() : java.util.Optional.of(a);
        }, () -> "the archive last said " + last[0] + "; the object is " + (store.head(lost).isPresent() ? "back" : "still gone"));
        assertThat(archive.get("missing").asText()).isEqualTo("1 archived objects are missing from the store: " + lost);
        api.deprovision(id);
    }
}
