package dev.keel.instances;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Network;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.databases.ServerSettings;
import dev.keel.postgres.HbaRule;
import dev.keel.postgres.Postmaster;
import dev.keel.postgres.ServerFiles;
import dev.keel.testing.Api;
import dev.keel.testing.ArchiveWaits;
import dev.keel.testing.Pg;
import dev.keel.testing.ProvisionedAhead;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * {@link Reconfiguration#reload}, which an upgrade uses to give the old server its new pg_hba
 * while the database serves on: it never restarts the server, even when a setting it writes
 * needs a restart (that waits for the next one), and it fails, saying why, when the server refuses
 * the new pg_hba, which then keeps its old rules, in its file too (else it would not start again);
 * nor does {@link Reconfiguration#apply} or {@link Reconfiguration#restart} restart a server into
 * a pg_hba it refuses, nor leave the refused change's settings for the next restart, even when
 * retried after Keel stopped between writing the files and putting the old ones back; and a
 * restart into settings the server does not start from (a library that is not there, a value out
 * of range) brings it back with the old ones, saying what it said, as does a start after Keel
 * stopped during such a restart. Real
 * servers of the shared Keel; the database's owner, refused by a rule the new pg_hba adds, shows
 * which rules the server holds.
 */
@ExtendWith(SharedKeel.class)
class ReconfigurationReloadTest {
    /** Each test's database, by the name of its team: one database per test. */
    private static final List<String> TEAMS = List.of("reload-no-restart", "reload-refused-hba", "apply-refused-hba", "restart-refused-hba",
            "retry-refused-hba", "apply-fails-start", "restart-fails-start", "crash-fails-start");
    private static ProvisionedAhead<Fixture> ahead;

    /** Provisions every test's database before the first test ({@link ProvisionedAhead}), each once it has its first backup. */
    @BeforeAll
    static void provisionEveryTestsDatabase(TestKeel keel) {
        ahead = ProvisionedAhead.start(TEAMS, team -> Fixture.provision(keel, team), Fixture::close);
    }

    @AfterAll
    static void deprovisionTheUntaken() throws Exception {
        ahead.discardUntaken();
    }

    /** The database provisioned for team {@code team}'s test, once it has its first backup; the test closes it. */
    private static Fixture fixture(String team) throws Exception {
        return ahead.take(team);
    }

    @Test
    void aReloadNeverRestartsTheServerEvenWhenASettingItWritesNeedsARestart(TestKeel keel) throws Exception {
        try (Fixture db = fixture("reload-no-restart")) {
            String startedAt = superuserScalar(keel, db.server(), "select pg_catalog.pg_postmaster_start_time()::text");
            int maxConnections = db.maxConnections(keel);
            try (Connection login = Pg.connect(db.owner(), "require")) {
                assertThat(Pg.scalar(login, "select 1")).as("the owner's login before the reload").isEqualTo("1");
            }

            Map<String, String> settings = new HashMap<>(settings(keel, db.server(), db.database()));
            settings.put("max_connections", Integer.toString(maxConnections + 7)); // Reconfiguration.apply restarts for this
            keel.bean(Reconfiguration.class).reload(db.server(), settings, refusing(keel, db.database(), db.user()));

            assertThat(Postmaster.pid(keel.instanceDataDir(db.server().id())).orElseThrow()).as("the postmaster's pid").isEqualTo(db.pid());
            assertThat(superuserScalar(keel, db.server(), "select pg_catalog.pg_postmaster_start_time()::text")).isEqualTo(startedAt);
            assertThat(db.maxConnections(keel)).isEqualTo(maxConnections);
            assertThat(superuserScalar(keel, db.server(), "select pending_restart::text from pg_catalog.pg_settings where name = 'max_connections'"))
                    .as("the written max_connections waits for a restart").isEqualTo("true");
            SQLException refused = catchThrowableOfType(SQLException.class, () -> Pg.connect(db.owner(), "require").close());
            assertThat((Throwable) refused).as("the owner's login once the new pg_hba refuses it").isNotNull();
            assertThat(refused.getSQLState()).isEqualTo("28000");
            assertThat(refused.getMessage()).contains("pg_hba.conf rejects connection").contains("user \"" + db.user() + "\"");
        }
    }

    @Test
    void aPgHbaTheServerRefusesFailsTheReloadSayingWhyAndTheServerKeepsItsOldRules(TestKeel keel) throws Exception {
        try (Fixture db = fixture("reload-refused-hba")) {
            // The rule that refuses the owner comes before a line the server cannot read: read whole, it would refuse the owner.
            List<HbaRule> hba = unreadable(refusing(keel, db.database(), db.user()));
            assertRefused(db.server(), hba,
                    () -> keel.bean(Reconfiguration.class).reload(db.server(), settings(keel, db.server(), db.database()), hba));
            try (Connection login = Pg.connect(db.owner(), "require")) {
                assertThat(Pg.scalar(login, "select current_user")).as("the owner, let in by the old rules").isEqualTo(db.user());
            }
            assertThat(superuserScalar(keel, db.server(), "select 1")).as("Keel's own login").isEqualTo("1");
            assertThat(Postmaster.pid(keel.instanceDataDir(db.server().id())).orElseThrow()).as("the postmaster's pid").isEqualTo(db.pid());
            // And so does its pg_hba file: the server starts again (as a restart in place starts it), with the old rules.
            assertOldRulesAfterARestart(keel, db);
        }
    }

    @Test
    void anApplyThatWouldRestartTheServerForAPgHbaItRefusesDoesNotAndSaysWhy(TestKeel keel) throws Exception {
        try (Fixture db = fixture("apply-refused-hba")) {
            RefusedChange change = RefusedChange.to(keel, db);
            assertRefused(db.server(), change.hba(), () -> keel.bean(Reconfiguration.class).apply(db.server(), change.settings(), change.hba()));
            assertThat(Postmaster.pid(keel.instanceDataDir(db.server().id())).orElseThrow()).as("the postmaster's pid: not restarted")
                    .isEqualTo(db.pid());
            change.assertLeftNoTrace(keel, db);
        }
    }

    @Test
    void aRestartForAPgHbaTheServerRefusesDoesNotHappenAndSaysWhy(TestKeel keel) throws Exception {
        try (Fixture db = fixture("restart-refused-hba")) {
            RefusedChange change = RefusedChange.to(keel, db);
            assertRefused(db.server(), change.hba(), () -> keel.bean(Reconfiguration.class).restart(db.server(), change.settings(), change.hba()));
            assertThat(Postmaster.pid(keel.instanceDataDir(db.server().id())).orElseThrow()).as("the postmaster's pid: not restarted")
                    .isEqualTo(db.pid());
            change.assertLeftNoTrace(keel, db);

            // A change whose writing fails half done (a full disk; here a directory holds the name pg_hba.conf is written
            // under first) puts back the settings it wrote already: a reload before the next change would read them unchecked.
            Path data = keel.instanceDataDir(db.server().id());
            Map<String, String> before = configurationFiles(keel, db.server());
            long pid = Postmaster.pid(data).orElseThrow();
            Path taken = Files.createDirectories(data.resolve(".pg_hba.conf.tmp").resolve("taken"));
            try {
                List<HbaRule> hba = InstanceConfig.hba(db.database().pgDatabase(), keel.bean(Network.class).keelSources());
                assertThatThrownBy(() -> keel.bean(Reconfiguration.class).restart(db.server(), change.settings(), hba))
                        .hasMessageContaining("pg_hba.conf");
            } finally {
                Files.delete(taken);
                Files.delete(taken.getParent());
            }
            assertThat(configurationFiles(keel, db.server())).as("keel.conf and pg_hba.conf after a write that failed").isEqualTo(before);
            assertThat(Postmaster.pid(data).orElseThrow()).as("the postmaster's pid: not restarted").isEqualTo(pid);
            assertThat(ServerFiles.KEPT_FILES).as("nothing kept").allSatisfy(name -> assertThat(data.resolve(name)).doesNotExist());
        }
    }

    @Test
    void aRetryOfARefusedChangeKeelStoppedDuringPutsBackTheFilesTheServerAcceptedNotTheRefusedOnes(TestKeel keel) throws Exception {
        try (Fixture db = fixture("retry-refused-hba")) {
            RefusedChange change = RefusedChange.to(keel, db);
            // What apply does up to the check, where Keel stopped: the new files written, neither checked nor put back.
            keel.bean(InstanceRuntime.class).configure(db.server(), change.settings(), change.hba());
            // Keel's next start finds the server running beside files nobody checked: the ones it accepted go back, even though
            // its pid file is newer than the change (a running postmaster rewrites it: ready, a promotion, a backend's crash).
            Path pidFile = keel.instanceDataDir(db.server().id()).resolve("postmaster.pid");
            Files.setLastModifiedTime(pidFile, FileTime.from(Instant.now().plusSeconds(5)));
            keel.bean(InstanceSweep.class).settle(db.server());
            assertThat(configurationFiles(keel, db.server())).as("keel.conf and pg_hba.conf after the sweep").isEqualTo(change.files());
            assertThat(ServerFiles.KEPT_FILES).as("nothing kept after the sweep")
                    .allSatisfy(name -> assertThat(keel.instanceDataDir(db.server().id()).resolve(name)).doesNotExist());
            keel.bean(InstanceRuntime.class).configure(db.server(), change.settings(), change.hba());
            // The retry writes the same files over those, and is refused.
            assertRefused(db.server(), change.hba(), () -> keel.bean(Reconfiguration.class).apply(db.server(), change.settings(), change.hba()));
            change.assertLeftNoTrace(keel, db);

            // A change the server restarted into before Keel stopped, unaccepted: the files it started from are the ones to keep.
            Map<String, String> settings = new HashMap<>(settings(keel, db.server(), db.database()));
            settings.put("max_connections", Integer.toString(change.maxConnections() + 3));
            keel.bean(InstanceRuntime.class).configure(db.server(), settings,
                    InstanceConfig.hba(db.database().pgDatabase(), keel.bean(Network.class).keelSources()));
            Map<String, String> started = configurationFiles(keel, db.server());
            restart(keel, db.server());
            keel.bean(InstanceSweep.class).settle(db.server());
            assertThat(configurationFiles(keel, db.server())).as("the files the server started from").isEqualTo(started);
            assertThat(ServerFiles.KEPT_FILES).as("nothing kept after the sweep")
                    .allSatisfy(name -> assertThat(keel.instanceDataDir(db.server().id()).resolve(name)).doesNotExist());
            assertThat(db.maxConnections(keel)).isEqualTo(change.maxConnections() + 3);
        }
    }

    @Test
    void anApplyWhoseNewSettingsTheServerDoesNotStartFromBringsItBackWithTheOldAndSaysWhy(TestKeel keel) throws Exception {
        try (Fixture db = fixture("apply-fails-start")) {
            UnstartableChange change = UnstartableChange.to(keel, db, "shared_preload_libraries", "pg_stat_statements,keel_no_such_library");
            change.assertBackWithTheOld(keel, db, () -> keel.bean(Reconfiguration.class).apply(db.server(), change.settings(), change.hba()),
                    "FATAL:  could not access file \"keel_no_such_library\": No such file or directory");
            assertThat(Postmaster.pid(keel.instanceDataDir(db.server().id())).orElseThrow()).as("the postmaster's pid: restarted")
                    .isNotEqualTo(db.pid());
        }
    }

    @Test
    void aRestartIntoAValueOutOfRangeBringsTheServerBackWithTheOldAndSaysWhichSetting(TestKeel keel) throws Exception {
        try (Fixture db = fixture("restart-fails-start")) {
            UnstartableChange change = UnstartableChange.to(keel, db, "max_connections", "262143");
            change.assertBackWithTheOld(keel, db, () -> keel.bean(Reconfiguration.class).restart(db.server(), change.settings(), change.hba()),
                    "LOG:  invalid value for parameter \"max_connections\": 262143; FATAL:  configuration file \""
                            + keel.instanceDataDir(db.server().id()).resolve("keel.conf") + "\" contains errors");
        }
    }

    @Test
    void aStartAfterKeelStoppedDuringARestartIntoFilesTheServerDoesNotStartFromComesBackWithTheOld(TestKeel keel) throws Exception {
        try (Fixture db = fixture("crash-fails-start")) {
            UnstartableChange change = UnstartableChange.to(keel, db, "shared_preload_libraries", "pg_stat_statements,keel_no_such_library");
            // What a restart does up to the start, where Keel stopped: the new files written, unaccepted, and the server stopped.
            InstanceRuntime runtime = keel.bean(InstanceRuntime.class);
            runtime.configure(db.server(), change.settings(), change.hba());
            runtime.stop(db.server());
            // Keel's next start starts it (InstanceSweep.sweep) as this does.
            change.assertBackWithTheOld(keel, db, () -> keel.bean(Reconfiguration.class).startOrGoBack(db.server()),
                    "FATAL:  could not access file \"keel_no_such_library\": No such file or directory");
        }
    }

    /** A change of one setting to a value the server does not start from; the server's value of it and its files before it. */
    private record UnstartableChange(Map<String, String> settings, List<HbaRule> hba, String name, String value, Map<String, String> files) {
        static UnstartableChange to(TestKeel keel, Fixture db, String name, String value) throws SQLException, IOException {
            Map<String, String> settings = new HashMap<>(ReconfigurationReloadTest.settings(keel, db.server(), db.database()));
            settings.put(name, value);
            List<HbaRule> hba = InstanceConfig.hba(db.database().pgDatabase(), keel.bean(Network.class).keelSources());
            return new UnstartableChange(settings, hba, name, superuserScalar(keel, db.server(), "select pg_catalog.current_setting('" + name + "')"),
                    configurationFiles(keel, db.server()));
        }

        /**
         * {@code change} fails saying the server did not start from the new files, {@code said}, and
         * runs again with the old: its value of the setting, its files as they were (none kept
         * beside them), the owner let in.
         */
        void assertBackWithTheOld(TestKeel keel, Fixture db, ThrowingCallable change, String said)
                throws SQLException, IOException {
            IllegalStateException failed = catchThrowableOfType(IllegalStateException.class, change);
            assertThat((Throwable) failed).as("a change the server does not start from").isNotNull();
            assertThat(failed.getMessage()).isEqualTo("instance " + db.server().id() + " did not start from its new settings and rules and runs"
                    + " again with the ones it had: " + said);
            assertThat(superuserScalar(keel, db.server(), "select pg_catalog.current_setting('" + name + "')")).as(name + ": the old")
                    .isEqualTo(value);
            assertThat(configurationFiles(keel, db.server())).as("keel.conf and pg_hba.conf").isEqualTo(files);
            Path data = keel.instanceDataDir(db.server().id());
            assertThat(data.resolve("keel.conf.previous")).as("kept keel.conf").doesNotExist();
            assertThat(data.resolve("pg_hba.conf.previous")).as("kept pg_hba.conf").doesNotExist();
            try (Connection login = Pg.connect(db.owner(), "require")) {
                assertThat(Pg.scalar(login, "select current_user")).as("the owner").isEqualTo(db.user());
            }
        }
    }

    /**
     * A change the server refuses: max_connections up (a restart, were the pg_hba good) and a
     * pg_hba with a line the server cannot read after a rule that refuses the owner; and the
     * server's max_connections and files before it.
     */
    private record RefusedChange(Map<String, String> settings, List<HbaRule> hba, int maxConnections, Map<String, String> files) {
        static RefusedChange to(TestKeel keel, Fixture db) throws SQLException, IOException {
            int maxConnections = db.maxConnections(keel);
            Map<String, String> settings = new HashMap<>(ReconfigurationReloadTest.settings(keel, db.server(), db.database()));
            settings.put("max_connections", Integer.toString(maxConnections + 7));
            return new RefusedChange(settings, unreadable(refusing(keel, db.database(), db.user())), maxConnections,
                    configurationFiles(keel, db.server()));
        }

        /**
         * Nor does the refused change wait in the server's files for its next restart: they are as
         * they were, settings too, and a restart brings the server up with the old rules and settings.
         */
        void assertLeftNoTrace(TestKeel keel, Fixture db) throws SQLException, IOException {
            assertThat(configurationFiles(keel, db.server())).as("keel.conf and pg_hba.conf").isEqualTo(files);
            assertOldRulesAfterARestart(keel, db);
            assertThat(db.maxConnections(keel)).as("max_connections after a restart: the old").isEqualTo(maxConnections);
        }
    }

    /**
     * A database of its own, its first backup taken (it does not meet the restarts the tests make),
     * its server, its owner's URL to that server and the server's pid; deprovisioned on close.
     */
    private record Fixture(Api team, Instance server, Database database, String owner, String user, long pid) implements AutoCloseable {
        static Fixture provision(TestKeel keel, String teamName) throws Exception {
            Api team = keel.newTeam(teamName);
            JsonNode db = team.provision("{\"plan\":\"standard-0\"}");
            String id = db.get("id").asText();
            try {
                ArchiveWaits.awaitInitialBackup(team, id);
                Instance server = keel.bean(InstanceRepository.class).primary(UUID.fromString(id)).orElseThrow();
                Database database = keel.bean(DatabaseLookup.class).find(UUID.fromString(id)).orElseThrow();
                String url = db.get("url").asText();
                long pid = Postmaster.pid(keel.instanceDataDir(server.id())).orElseThrow();
                return new Fixture(team, server, database, ownerOnServer(url, server, database), Pg.user(url), pid);
            } catch (Exception | AssertionError e) {
                team.deprovision(id);
                throw e;
            }
        }

        int maxConnections(TestKeel keel) throws SQLException {
            return Integer.parseInt(superuserScalar(keel, server, "select pg_catalog.current_setting('max_connections')"));
        }

        @Override
        public void close() {
            team.deprovision(database.id().toString());
        }
    }

    /** {@code hba} with a line the server cannot read before its last rule. */
    private static List<HbaRule> unreadable(List<HbaRule> hba) {
        hba.add(hba.size() - 1, HbaRule.hostssl("all", "all", "no-such-method"));
        return hba;
    }

    /** {@code change}, given {@code hba}, fails saying the server refused it at its unreadable line. */
    private static void assertRefused(Instance server, List<HbaRule> hba, ThrowingCallable change) {
        IllegalStateException failed = catchThrowableOfType(IllegalStateException.class, change);
        assertThat((Throwable) failed).as("a change to a pg_hba the server refuses").isNotNull();
        // pg_hba.conf: Keel's header line, then one line per rule.
        assertThat(failed.getMessage()).isEqualTo("instance " + server.id() + " refused its new pg_hba and keeps the settings and rules it had: line "
                + hba.size() + ": invalid authentication method \"no-such-method\"");
    }

    /** The server starts again (as a restart in place starts it) from its pg_hba file, whose old rules let the owner in. */
    private static void assertOldRulesAfterARestart(TestKeel keel, Fixture db) throws SQLException {
        restart(keel, db.server());
        try (Connection login = Pg.connect(db.owner(), "require")) {
            assertThat(Pg.scalar(login, "select current_user")).as("the owner after a restart, let in by the old rules").isEqualTo(db.user());
        }
    }

    /** The server's keel.conf and pg_hba.conf, by name. */
    private static Map<String, String> configurationFiles(TestKeel keel, Instance server) throws IOException {
        Path data = keel.instanceDataDir(server.id());
        return Map.of("keel.conf", Files.readString(data.resolve("keel.conf")), "pg_hba.conf", Files.readString(data.resolve("pg_hba.conf")));
    }

    /** Stops and starts the server, as a restart in place does. */
    private static void restart(TestKeel keel, Instance server) {
        InstanceRuntime runtime = keel.bean(InstanceRuntime.class);
        runtime.stop(server);
        runtime.start(server);
    }

    /** The database's settings as Keel writes them for its server. */
    private static Map<String, String> settings(TestKeel keel, Instance server, Database database) {
        return keel.bean(InstanceMaker.class).settings(server, keel.bean(ServerSettings.class).of(database));
    }

    /** The database's pg_hba as Keel writes it, with a rule that refuses {@code user} before the one that would let it in. */
    private static List<HbaRule> refusing(TestKeel keel, Database database, String user) {
        List<HbaRule> hba = new ArrayList<>(InstanceConfig.hba(database.pgDatabase(), keel.bean(Network.class).keelSources()));
        hba.add(hba.size() - 1, HbaRule.host("all", user, "all", "reject"));
        return hba;
    }

    /** The owner's URL, to the server itself (whatever pooler the database's URL may name). */
    private static String ownerOnServer(String url, Instance server, Database database) {
        return "postgres://" + URI.create(url).getRawUserInfo() + "@" + server.host() + ":" + server.port() + "/" + database.pgDatabase();
    }

    private static String superuserScalar(TestKeel keel, Instance server, String sql) throws SQLException {
        try (Connection superuser = keel.bean(InstanceConnections.class).open(server, "postgres").pinnedConnection()) {
            return Pg.scalar(superuser, sql);
        }
    }
}
