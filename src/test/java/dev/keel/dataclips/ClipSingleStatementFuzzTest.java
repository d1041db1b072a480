package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.InstanceRepository;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.Superuser;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Texts on which Keel's {@link ClipText}, pgjdbc's lexer and the server's may disagree about
 * where quotes, dollar quotes, identifiers and comments end, each hiding (for one of them) a
 * second statement that would commit, turn read-only off, write a row, change the role's
 * settings and drop its password. Every text ClipText takes for one statement goes to the real
 * server twice, with standard_conforming_strings on and then off for the database: once through
 * {@link ClipStatement} alone (the protocol path: one Parse message), once through
 * {@link ClipRunner} (the whole run). The second statement never runs: the side-effect table
 * stays empty, and the role's password verifier and settings stay as they were.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClipSingleStatementFuzzTest {
    private static final long SEED = Long.getLong("keel.test.fuzz-seed", 20261113L);
    private static final int GENERATED = Integer.getInteger("keel.test.fuzz-texts", 300);
    /**
     * What a text hides: statements that would end the read-only transaction, start a writable one, turn read-only off,
     * write, change the role's settings, drop its password and commit, whether they run in the clip's session (pinned
     * search_path: names qualified) or not. No quote, dollar, comment or newline in it, so it fits inside any opener.
     */
    private static final String HIDDEN = "; commit; begin read write; set default_transaction_read_only to off;"
            + " insert into public.side_effect values (1); alter role current_user set work_mem to 77;"
            + " alter role current_user password null; commit; select 2";
    /** Before an opener or a closer: nothing, identifier characters (non-ASCII letters and non-letters), prefixes, a comment start. */
    private static final String[] GLUE = {"", "", " ", " as x", " as é", " as a\u00a0", " as b€", " as 😀", " as ü", " as ǅ", " as x·",
            " as µ", " as e\u0301", " as _", " as z$", " as E", " as U&", " --", " /*", "\\", "1"};
    private static final String[][] PAIRS = {{"$$", "$$"}, {"$t$", "$t$"}, {"$é$", "$é$"}, {"$€$", "$€$"}, {"$_$", "$_$"},
            {"$1$", "$1$"}, {"'", "'"}, {"E'", "'"}, {"e'\\'", "'"}, {"'\\'", "'"}, {"E'\\\\", "'"}, {"U&'", "'"}, {"\"", "\""},
            {"U&\"", "\""}, {"/*", "*/"}, {"/* /*", "*/ */"}, {"/*/* */", "*/"}, {"--", "\n"}, {"(", ")"}};
    /** Inside the hidden part or after the closer: more of what the lexers may read differently. */
    private static final String[] FILL = {"", "", "", " ", "\\", "'", "''", "\\'", "$$", "*/", "/*", "\"", "\"\"", "--", "é$$",
            "€$$", "\u00a0$$", "😀$$", "$t$", "\n", ")", "(", " UESCAPE '!'"};

    private TestKeel keel;
    private Api api;
    private Database database;
    private Dataclip clip;
    private String role;
    private Connection owner;
    private Connection superuser;
    private final Map<String, Integer> counts = new LinkedHashMap<>();

    @BeforeAll
    void provision(TestKeel keel) throws Exception {
        this.keel = keel;
        api = keel.newTeam("fuzz-" + UUID.randomUUID().toString().substring(0, 8));
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        owner = Pg.connect(db.get("url").asText(), keel.caFile());
        try (Statement sql = owner.createStatement()) {
            sql.execute("create table side_effect (n int)");
            sql.execute("grant insert on side_effect to public"); // what a second statement could do, were it run outside the read-only transaction
        }
        JsonNode created = api.post("/v1/dataclips", "{\"title\":\"fuzz\",\"database\":\"" + db.get("name").asText()
                + "\",\"sql\":\"select 1\",\"timeout_seconds\":10}").json();
        assertThat(created.get("result").get("state").asText()).as(created.toString()).isEqualTo("succeeded");
        String url = api.post("/v1/dataclips/" + created.get("id").asText() + "/share", "").field("url");
        clip = keel.bean(DataclipRepository.class).findBySlug(url.substring(url.lastIndexOf('/') + 1)).orElseThrow();
        database = keel.bean(DatabaseLookup.class).find(UUID.fromString(db.get("id").asText())).orElseThrow();
        role = keel.bean(DataclipRoles.class).loginFor(database).username();
        superuser = Superuser.connect(keel, keel.bean(InstanceRepository.class).primary(database.id()).orElseThrow(), database.pgDatabase());
    }

    @AfterAll
    void close() throws Exception {
        owner.close();
        superuser.close();
        api.deprovision(database.id().toString());
    }

    @Test
    void aSecondStatementNeverRunsWhateverTheLexersBelieve() throws Exception {
        List<String> texts = corpus();
        String before = roleState();
        for (boolean standardConformingStrings : new boolean[] {true, false}) {
            try (Statement sql = owner.createStatement()) {
                sql.execute("alter database \"" + database.pgDatabase() + "\" set standard_conforming_strings = "
                        + (standardConformingStrings ? "on" : "off"));
            }
            try (Connection clipRole = keel.bean(ClipRunner.class).open(keel.bean(RunTarget.class).primary(database),
                    keel.bean(DataclipRoles.class).loginFor(database), 10)) {
                assertThat(Pg.scalar(clipRole, "show standard_conforming_strings")).isEqualTo(standardConformingStrings ? "on" : "off");
                for (String text : texts) {
                    ClipText.Prepared read;
                    try {
                        read = ClipText.read(text);
                    } catch (KeelException refused) {
                        count("refused by ClipText");
                        continue;
                    }
                    count("taken for one statement by ClipText");
                    alone(clipRole, read, text);
                    assertNothingRan(text, before);
                    whole(read, text);
                    assertNothingRan(text, before);
                }
            }
        }
        System.out.println("ClipSingleStatementFuzzTest (seed " + SEED + ", " + texts.size() + " texts, twice): " + counts);
        assertThat(counts.getOrDefault("taken for one statement by ClipText", 0)).isGreaterThan(100);
        // Both of the guards below ClipText were reached: pgjdbc's lexer against ClipText's, the server's against pgjdbc's.
        assertThat(counts.getOrDefault("alone: refused by pgjdbc's parser", 0)).isPositive();
        assertThat(counts.getOrDefault("alone: refused by the server (one Parse, several commands)", 0)).isPositive();
        assertThat(counts.getOrDefault("whole run: succeeded", 0)).isPositive();
    }

    /** The protocol path on its own: the text as ClipText prepared it, sent through ClipStatement and executed as it stands. */
    private void alone(Connection c, ClipText.Prepared read, String text) throws SQLException {
        c.setAutoCommit(false);
        try (Statement begin = c.createStatement()) {
            begin.execute("set transaction read only");
            try (PreparedStatement statement = ClipStatement.prepare(c, read.jdbcSql(), read.parameters().size())) {
                statement.execute();
                count("alone: ran");
            }
        } catch (KeelException refused) {
            assertThat(refused.getMessage()).as(text).startsWith("A dataclip is one statement, and the driver");
            count("alone: refused by pgjdbc's parser");
        } catch (SQLException e) {
            count("42601".equals(e.getSQLState()) && e.getMessage().contains("cannot insert multiple commands into a prepared statement")
                    ? "alone: refused by the server (one Parse, several commands)" : "alone: failed with " + e.getSQLState());
        } finally {
            c.rollback();
        }
    }

    /** The whole run, as Keel makes it for a refresh. */
    private void whole(ClipText.Prepared read, String text) {
        ResultRepository results = keel.bean(ResultRepository.class);
        ClipResult result = results.start(clip.teamId(), clip.id(), clip.version().id(), "{\"fuzz\":" + Json.quote(text) + "}",
                keel.bean(ThisNode.class).name(), keel.bean(ThisNode.class).lost(), unfinished -> { }, new TeamRunRate(Integer.MAX_VALUE),
                null);
        keel.bean(ClipRunner.class).run(clip, database, result, read, Map.of());
        ClipResult ended = results.find(result.id()).orElseThrow();
        if (ended.succeeded()) {
            count("whole run: succeeded");
        } else {
            assertThat(ended.errorMessage()).as(text).doesNotStartWith("Keel could not run the dataclip (an internal error");
            count("whole run: failed");
        }
    }

    private void assertNothingRan(String text, String before) throws SQLException {
        assertThat(Pg.scalar(owner, "select count(*) from side_effect")).as("rows a second statement wrote, after " + text).isEqualTo("0");
        assertThat(roleState()).as("the role's password and settings after " + text).isEqualTo(before);
    }

    private String roleState() throws SQLException {
        try (PreparedStatement state = superuser.prepareStatement(
                "select coalesce(a.rolpassword, 'none') || ' ' || coalesce(r.rolconfig::text, '') from pg_catalog.pg_authid a"
                        + " join pg_catalog.pg_roles r on r.oid = a.oid where a.rolname = ?")) {
            state.setString(1, role);
            try (var rs = state.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getString(1);
            }
        }
    }

    /** Known disagreements first (the one that escaped before among them), then generated ones. */
    private List<String> corpus() {
        List<String> texts = new ArrayList<>(List.of(
                "select 1 as €$$" + HIDDEN + " as €$$",               // Keel: a dollar quote; pgjdbc and the server: identifiers
                "select 1 as a\u00a0$$" + HIDDEN + " as b\u00a0$$",   // Keel and pgjdbc: a dollar quote; the server: identifiers
                "select 1 as 😀$$" + HIDDEN + " as 😀$$",
                "select 'a\\''" + HIDDEN + " --'",                    // with standard_conforming_strings off
                "select E'\\''" + HIDDEN + " --'",
                "select /* /* */" + HIDDEN + " */",
                "select U&\"x\\\"" + HIDDEN + "\"",
                "select 1) as keel_clip(c1)" + HIDDEN + " from (select 1",
                "select 1 $é$" + HIDDEN + " $é$"));
        Random random = new Random(SEED);
        for (int i = 0; i < GENERATED; i++) {
            String[] pair = PAIRS[random.nextInt(PAIRS.length)];
            texts.add("select 1" + pick(random, GLUE) + pair[0] + pick(random, FILL) + HIDDEN + pick(random, FILL) + pick(random, GLUE)
                    + pair[1] + pick(random, FILL) + pick(random, FILL));
        }
        return texts;
    }

    private static String pick(Random random, String[] choices) {
        return choices[random.nextInt(choices.length)];
    }

    private void count(String what) {
        counts.merge(what, 1, Integer::sum);
    }
}
