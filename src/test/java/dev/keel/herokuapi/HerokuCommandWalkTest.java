package dev.keel.herokuapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.HerokuCli;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static dev.keel.herokuapi.HerokuCommandWalk.Kind.OUTSIDE;
import static dev.keel.herokuapi.HerokuCommandWalk.Kind.WORKS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Walks every command of heroku@11.10.0's {@code apps}, {@code addons}, {@code config} and
 * {@code pg} topics and {@code logs}, as its installed manifest lists them, with valid arguments
 * against real databases ({@link HerokuCommandWalk} says what each is expected to do), prints a
 * table of command and result, and writes it to {@code target/heroku-command-walk.txt}. A command
 * another class runs with closer checks is not run again; that class must still run it. No
 * command may print a raw problem document or a stack trace; every one Keel declines says why,
 * in Heroku's error shape. The databases are major 15 so that the machine's client tools
 * ({@code pg_dump} 15) serve {@code pg:pull} and {@code pg:push}.
 */
// Minutes long: started among the first (junit-platform.properties).
@Order(3)
@ExtendWith(SharedKeel.class)
class HerokuCommandWalkTest {
    @Test
    void everyCommandOfTheTopicsWorksOrSaysWhyKeelDoesNotDoIt(TestKeel keel) throws Exception {
        Api api = keel.newTeam("walk-" + System.nanoTime());
        HerokuCli heroku = HerokuCli.against(keel, api.key());
        Set<String> listed = listed(heroku.manifest());
        assertThat(new TreeSet<>(HerokuCommandWalk.commands())).as("the walk's table covers exactly the manifest's commands")
                .isEqualTo(listed);
        for (HerokuCommandWalk.Step step : HerokuCommandWalk.steps()) {
            if (step.provenBy() != null) {
                assertThat(source(step.provenBy())).as(step.provenBy().getSimpleName() + " runs " + step.command())
                        .contains("heroku.run(\"" + step.command() + "\"");
            }
        }

        for (String app : List.of("walk", "walk-other")) {
            assertThat(api.post("/v1/apps", "{\"name\":\"" + app + "\"}").status()).isEqualTo(201);
        }
        ok(heroku.run("addons:create", "heroku-postgresql:standard-0", "-a", "walk", "--confirm", "walk", "--wait", "--", "--version", "15"));
        String main = api.get("/v1/databases").json().get(0).get("name").asText();
        JsonNode target = api.provision("{\"plan\":\"essential-0\",\"version\":\"15\"}");
        assertThat(api.post("/v1/apps/walk/attachments", "{\"database\":\"" + target.get("name").asText() + "\",\"as\":\"TARGET\"}").status())
                .isEqualTo(201);
        String mainUrl = api.get("/v1/apps/walk/config-vars").json().get("DATABASE_URL").asText();
        try (Connection owner = Pg.connect(mainUrl, keel.caFile()); Statement sql = owner.createStatement()) {
            sql.execute("create table items (id int primary key, note text)");
            sql.execute("insert into items select g, 'note ' || g from generate_series(1, 1000) g");
        }
        Map<String, String> values = new HashMap<>(Map.of("main", main, "target", target.get("name").asText(),
                "mainUrl", mainUrl.replaceFirst("\\?.*", ""), "targetUrl", target.get("url").asText().replaceFirst("\\?.*", "")));

        List<HerokuCommandWalk.Result> results = new ArrayList<>();
        for (HerokuCommandWalk.Step step : HerokuCommandWalk.steps()) {
            HerokuCli.Run run = step.runs() ? runOrTimeOut(heroku, step.argv(values)) : null;
            HerokuCommandWalk.Result result = HerokuCommandWalk.judge(step, run, values);
            results.add(result);
            System.out.println(HerokuCommandWalk.table(List.of(result)).lines().skip(1).findFirst().orElse(""));
            if (run != null) {
                step.capture(run, values);
            }
        }
        String table = HerokuCommandWalk.table(results);
        System.out.println(table);
        Files.writeString(Path.of("target", "heroku-command-walk.txt"), table);

        List<String> raw = results.stream().filter(r -> r.run() != null && r.run().printsRaw())
                .map(r -> r.step().command() + ":\n" + r.run()).toList();
        assertThat(raw).as("commands that printed a raw problem document or a stack trace").isEmpty();
        List<String> wrong = results.stream().filter(r -> !r.asExpected()).map(r -> r.step().command() + " (" + r.step().kind() + "):\n"
                + r.run()).toList();
        assertThat(wrong).as("commands that did not do what the walk expects").isEmpty();
        long inScope = results.stream().filter(r -> r.step().kind() != OUTSIDE).count();
        assertThat(results.stream().filter(r -> r.step().kind() == WORKS).count()).isGreaterThan(inScope * 3 / 4);
        for (JsonNode database : api.get("/v1/databases").json()) {
            Api.Response deleted = api.delete("/v1/databases/" + database.get("id").asText() + "?unfollow_followers=true");
            assertThat(deleted.status()).as(deleted.toString()).isIn(202, 404);
        }
        for (JsonNode database : api.get("/v1/databases").json()) {
            api.awaitGone(database.get("id").asText());
        }
    }

    /** A command that does not finish is a result too (exit -1), so the walk goes on to the others. */
    private static HerokuCli.Run runOrTimeOut(HerokuCli heroku, String... argv) throws Exception {
        try {
            return heroku.run(argv);
        } catch (IllegalStateException e) {
            return new HerokuCli.Run(-1, "", e.getMessage());
        }
    }

    /** The source of a test class that proves some of the table's commands. */
    private static String source(Class<?> test) throws Exception {
        return Files.readString(Path.of("src", "test", "java").resolve(test.getName().replace('.', '/') + ".java"));
    }

    /** The manifest's commands of the walked topics. */
    private static Set<String> listed(Path manifest) throws Exception {
        JsonNode commands = Api.parse(Files.readString(manifest)).get("commands");
        Set<String> ids = new TreeSet<>();
        commands.fieldNames().forEachRemaining(id -> {
            if (id.matches("(apps|addons|config|pg)(:.*)?") || id.equals("logs")) {
                ids.add(id);
            }
        });
        return ids;
    }

    private static HerokuCli.Run ok(HerokuCli.Run run) {
        assertThat(run.exit()).as(run.toString()).isZero();
        return run;
    }
}
