package dev.keel.archive;

import dev.keel.testing.Superuser;
import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.postgres.Installation;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.PostgresBinaries;
import dev.keel.postgres.ServerAccounts;
import dev.keel.postgres.ServerCommands;
import dev.keel.postgres.ServerUser;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalSegmentName;
import dev.keel.restore.BackupReader;
import dev.keel.restore.CorruptArchiveException;
import dev.keel.restore.WalFetcher;
import dev.keel.storage.ObjectInfo;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import static dev.keel.testing.ArchiveWaits.awaitBackup;
import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static dev.keel.testing.ArchiveWaits.switchAndAwaitArchived;
import dev.keel.testing.Pg;
import dev.keel.testing.ProvisionedAhead;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@ExtendWith(SharedKeel.class)
class ArchiveTest {
    /** Each test's database's plan, by a short name of the test: one database per test. */
    private static final Map<String, String> PLANS = Map.of("new", "standard-0", "manual", "essential-0", "restores", "standard-0",
            "flipped", "essential-0", "conflict", "essential-0", "deleting", "essential-0", "other-team", "essential-0");
    private static ProvisionedAhead<Provisioned> ahead;

    /** A database provisioned for one test, once its first backup completed: the provision's answer, and that backup. */
    private record Provisioned(JsonNode database, JsonNode firstBackup) {
        String id() {
            return database.get("id").asText();
        }
    }

    /** Provisions every test's database before the first test ({@link ProvisionedAhead}), each once its first backup completed. */
    @BeforeAll
    static void provisionEveryTestsDatabase(TestKeel keel) {
        ahead = ProvisionedAhead.start(PLANS.keySet(), test -> {
            Api api = keel.api();
            JsonNode database = api.provision("{\"plan\":\"" + PLANS.get(test) + "\"}");
            try {
                return new Provisioned(database, awaitInitialBackup(api, database.get("id").asText()));
            } catch (RuntimeException | AssertionError e) {
                api.deprovision(database.get("id").asText());
                throw e;
            }
        }, untaken -> keel.api().deprovision(untaken.id()));
    }

    @AfterAll
    static void deprovisionTheUntaken() throws Exception {
        ahead.discardUntaken();
    }

    /** The database provisioned for test {@code test}, once its first backup completed; the test deprovisions it. */
    private static Provisioned provisioned(String test) throws Exception {
        return ahead.take(test);
    }

    @Test
    void aNewDatabaseIsArchivedAndBackedUpRightAwayInItsOwnPrefix(TestKeel keel) throws Exception {
        Api api = keel.api();
        Provisioned provisioned = provisioned("new");
        String id = provisioned.id();
        JsonNode backup = provisioned.firstBackup();

        JsonNode archive = api.get("/v1/databases/" + id + "/archive").json();
        assertThat(archive.get("status").asText()).isEqualTo("ok");
        assertThat(archive.get("newest_segment").asText()).matches("00000001[0-9A-F]{16}");
        assertThat(archive.get("gaps")).isEmpty();
        // The window opens when the backup was consistent: by its stop segment's completion, at the latest when it finished.
        assertThat(java.time.Instant.parse(archive.get("window").get("from").asText()))
                .isAfter(java.time.Instant.parse(backup.get("started_at").asText()))
                .isBeforeOrEqualTo(java.time.Instant.parse(backup.get("finished_at").asText()))
                .isBeforeOrEqualTo(java.time.Instant.parse(archive.get("window").get("to").asText()));
        assertThat(archive.get("stored_bytes").asLong()).isPositive();

        List<String> keys = keel.bean(ObjectStore.class).list(id + "/").stream().map(ObjectInfo::key).toList();
        String backupId = backup.get("id").asText();
        assertThat(keys).contains(id + "/backups/" + backupId + "/base.tar.zst", id + "/backups/" + backupId + "/manifest.json");
        assertThat(keys).anyMatch(k -> k.matches(id + "/wal/00000001[0-9A-F]{16}\\.zst"));
        // streamed/: parts of the segment the WAL receiver is filling (and of one just completed, until they are removed).
        assertThat(keys).allMatch(k -> k.startsWith(id + "/wal/") || k.startsWith(id + "/backups/") || k.startsWith(id + "/streamed/"));
        api.deprovision(id);
    }

    @Test
    void aManualBackupRunsAloneAndListsItsLsnsTimelineAndSizes(TestKeel keel) throws Exception {
        Api api = keel.api();
        String id = provisioned("manual").id();
        Api.Response taken = api.post("/v1/databases/" + id + "/backups", "");
        assertThat(taken.status()).isEqualTo(202);
        assertThat(taken.field("state")).isEqualTo("running");
        assertThat(taken.field("kind")).isEqualTo("manual");
        Api.Response second = api.post("/v1/databases/" + id + "/backups", "");
        assertThat(second.status()).isEqualTo(409);
        assertThat(second.field("type")).isEqualTo("/problems/backup-running");
        String first = taken.field("operation_id");
        assertThat(second.field("operation_id")).isEqualTo(first);
        assertThat(second.field("detail")).isEqualTo("A backup of " + api.get("/v1/databases/" + id).field("name") + " is already queued"
                + " or running (operation " + first + "); follow it with GET /v1/operations/{id} and ask again once"
                + " it has finished.");

        JsonNode done = awaitBackup(api, id, taken.field("id"));
        assertThat(done.get("start_lsn").asText()).matches("[0-9A-F]+/[0-9A-F]+");
        assertThat(Lsn.parse(done.get("stop_lsn").asText())).isGreaterThan(Lsn.parse(done.get("start_lsn").asText()));
        assertThat(done.get("timeline").asInt()).isEqualTo(1);
        assertThat(done.get("size_bytes").asLong()).isGreaterThan(done.get("stored_bytes").asLong()).isPositive();
        assertThat(done.get("finished_at").isNull()).isFalse();
        assertThat(api.get("/v1/databases/" + id + "/backups").json()).hasSize(2);
        // The backup is recorded completed moments before its operation is.
        Wait.until("the backup's operation to succeed", Timeouts.REQUEST,
                () -> "succeeded".equals(api.get("/v1/operations/" + done.get("operation_id").asText()).field("state")));
        assertThat(api.get("/v1/databases/" + id + "/backups/" + UUID.randomUUID()).status()).isEqualTo(404);
        api.deprovision(id);
    }

    @Test
    void aBaseBackupWithItsArchivedWalRestoresTheData(TestKeel keel) throws Exception {
        Api api = keel.api();
        JsonNode database = provisioned("restores").database();
        String id = database.get("id").asText();
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile()); var sql = connection.createStatement()) {
            sql.execute("create table kept (phase text, n int); insert into kept select 'before', g from generate_series(1, 1000) g");
        }
        JsonNode backup = awaitBackup(api, id, api.post("/v1/databases/" + id + "/backups", "").field("id"));
        try (Connection connection = Pg.connect(database.get("url").asText(), keel.caFile()); var sql = connection.createStatement()) {
            sql.execute("insert into kept select 'after', g from generate_series(1, 500) g");
        }
        switchAndAwaitArchived(keel, id);

        Path restored = TestKeel.freshDataDir("restored-" + System.nanoTime());
        Path data = restored.resolve("data");
        Path wal = Files.createDirectories(restored.resolve("wal"));
        keel.bean(BackupReader.class).unpack(UUID.fromString(id), UUID.fromString(backup.get("id").asText()), data);
        ArchiveRepository archive = keel.bean(ArchiveRepository.class);
        for (ArchivedWal file : archive.files(UUID.fromString(id))) {
            assertThat(keel.bean(WalFetcher.class).fetch(UUID.fromString(id), file.name(), wal.resolve(file.name()))).isTrue();
        }
        int port = dev.keel.postgres.PortRange.parse(TestKeel.nextPorts().instances()).firstFree(java.util.Set.of(),
                p -> dev.keel.postgres.PortRange.bindable("127.0.0.1", p)).orElseThrow();
        Files.writeString(data.resolve("keel.conf"), String.join("\n", "listen_addresses = '127.0.0.1'", "port = " + port,
                "unix_socket_directories = ''", "ssl = off", "archive_mode = off",
                // Recovery refuses fewer connections than the source had (standard-0: 120).
                "max_connections = 120", "shared_preload_libraries = 'pg_stat_statements'",
                "restore_command = 'cp " + wal + "/%f %p'", "recovery_target_action = 'promote'") + "\n");
        Files.writeString(data.resolve("pg_hba.conf"), "host all all 127.0.0.1/32 trust\n");
        Files.writeString(data.resolve("recovery.signal"), "");
        ServerCommands commands = keel.bean(ServerCommands.class);
        ServerUser user = keel.bean(ServerAccounts.class).catalog();
        user.ownTree(restored);
        Installation installation = keel.bean(PostgresBinaries.class).installation(17);
        commands.start(user, installation, data, restored.resolve("postgresql.log"));
        try {
            String pgDatabase = java.net.URI.create(database.get("url").asText()).getPath().substring(1);
            try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + pgDatabase, "keel", "")) {
                Wait.until("recovery to finish", Timeouts.PROVISION, () -> {
                    try {
                        return "f".equals(Pg.scalar(connection, "select pg_is_in_recovery()"));
                    } catch (java.sql.SQLException e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertThat(Pg.scalar(connection, "select count(*) from kept where phase = 'before'")).isEqualTo("1000");
                assertThat(Pg.scalar(connection, "select count(*) from kept where phase = 'after'")).isEqualTo("500");
            }
        } finally {
            commands.stop(user, installation, data);
        }
        api.deprovision(id);
    }

    @Test
    void bytesFlippedInTheStoreAreCaughtWhenRead(TestKeel keel) throws Exception {
        Api api = keel.api();
        Provisioned provisioned = provisioned("flipped");
        String id = provisioned.id();
        String backup = provisioned.firstBackup().get("id").asText();
        UUID database = UUID.fromString(id);
        ArchivedWal segment = keel.bean(ArchiveRepository.class).files(database).stream()
                .filter(f -> f.file().kind() == dev.keel.postgres.WalFileName.Kind.SEGMENT).findFirst().orElseThrow();
        Path bucket = keel.dataDir().resolve("s3/data/keel");
        flipByteIn(bucket.resolve(ArchiveLayout.walKey(database, segment.name())));
        flipByteIn(bucket.resolve(ArchiveLayout.backupKey(database, UUID.fromString(backup))));

        Path target = Files.createTempDirectory("corrupt");
        assertThatThrownBy(() -> keel.bean(WalFetcher.class).fetch(database, segment.name(), target.resolve(segment.name())))
                .isInstanceOf(CorruptArchiveException.class)
                .hasMessageStartingWith("WAL file " + segment.name() + " of database " + id);
        assertThat(target.resolve(segment.name())).doesNotExist();
        assertThatThrownBy(() -> keel.bean(BackupReader.class).unpack(database, UUID.fromString(backup), target.resolve("data")))
                .isInstanceOf(CorruptArchiveException.class)
                .hasMessageStartingWith("backup " + backup + " of database " + id);
        api.deprovision(id);
    }

    private static void flipByteIn(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x5A;
        Files.write(file, bytes);
    }

    @Test
    void otherContentUnderAnArchivedNameIsAConflictAndIsNeverOverwritten(TestKeel keel) throws Exception {
        Api api = keel.api();
        String id = provisioned("conflict").id();
        UUID database = UUID.fromString(id);
        Instance primary = keel.bean(InstanceRepository.class).primary(database).orElseThrow();
        String next;
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            next = WalSegmentName.containing(new TimelineId(1), Lsn.parse(Pg.scalar(connection, "select pg_current_wal_lsn()"))).toString();
            // Another writer got there first: different bytes under the name this server is about to archive.
            keel.bean(ObjectStore.class).put(ArchiveLayout.walKey(database, next), "another server's WAL".getBytes(StandardCharsets.UTF_8),
                    Map.of("sha256", "0".repeat(64)));
            try (var sql = connection.createStatement()) {
                sql.execute("create table t (x int)");
            }
            Pg.scalar(connection, "select pg_switch_wal()");
        }
        JsonNode archive = Wait.until("the conflict to show", Timeouts.PROVISION, () -> {
            JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
            return "conflict".equals(a.get("status").asText()) ? Optional.of(a) : Optional.empty();
        });
        assertThat(archive.get("message").asText()).startsWith("The archive already holds " + next + " with other content (sha256 "
                + "0".repeat(64)).endsWith("Archiving of this database is stopped and nothing was overwritten; an operator must find"
                + " the other writer.");
        try (InputStream in = keel.bean(ObjectStore.class).get(ArchiveLayout.walKey(database, next))) {
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("another server's WAL");
        }
        // archive_command's copy stays in the spool (the WAL receiver may have met the conflict first).
        Wait.until("the conflicting segment to wait in the spool", Timeouts.PROVISION,
                () -> keel.bean(InstanceRuntime.class).spooledWal(primary).stream().anyMatch(s -> s.name().equals(next)));
        api.deprovision(id);
    }

    @Test
    void deletingADatabaseRemovesItsArchive(TestKeel keel) throws Exception {
        Api api = keel.api();
        String id = provisioned("deleting").id();
        assertThat(keel.bean(ObjectStore.class).list(id + "/")).isNotEmpty();
        api.deprovision(id);
        assertThat(keel.bean(ObjectStore.class).list(id + "/")).isEmpty();
        assertThat(keel.bean(ArchiveRepository.class).files(UUID.fromString(id))).isEmpty();
    }

    @Test
    void anotherTeamsBackupsAndArchiveAreNotFound(TestKeel keel) throws Exception {
        Api api = keel.api();
        Provisioned provisioned = provisioned("other-team");
        String id = provisioned.id();
        String backup = provisioned.firstBackup().get("id").asText();
        Api other = keel.newTeam("archive-other-" + System.nanoTime());
        assertThat(other.get("/v1/databases/" + id + "/archive").status()).isEqualTo(404);
        assertThat(other.get("/v1/databases/" + id + "/backups").status()).isEqualTo(404);
        assertThat(other.get("/v1/databases/" + id + "/backups/" + backup).status()).isEqualTo(404);
        assertThat(other.post("/v1/databases/" + id + "/backups", "").status()).isEqualTo(404);
        assertThat(api.get("/v1/databases/" + id + "/backups").json()).hasSize(1);
        api.deprovision(id);
    }
}
