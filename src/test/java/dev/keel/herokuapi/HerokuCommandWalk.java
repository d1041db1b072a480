package dev.keel.herokuapi;

import dev.keel.testing.HerokuCli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.keel.herokuapi.HerokuCommandWalk.Kind.DECLINED;
import static dev.keel.herokuapi.HerokuCommandWalk.Kind.NOTHING_RUNNING;
import static dev.keel.herokuapi.HerokuCommandWalk.Kind.OUTSIDE;
import static dev.keel.herokuapi.HerokuCommandWalk.Kind.WORKS;

/**
 * The walk's table: every command of the walked topics, in the order it runs, with its arguments
 * ({@code {main}}, {@code {target}}, {@code {mainUrl}}, {@code {targetUrl}} stand for the walk's
 * databases) and what it must do. A command that another class runs with closer checks of its
 * output and of what it left (apps, add-ons and credentials: HerokuCliTest; followers, backups,
 * copies, upgrades, settings, upkeep: their own classes) is not run a second time here: the table
 * names that class, the walk checks that the class still runs it, and the class checks, as the
 * walk does, that it prints no raw problem document or stack trace.
 */
final class HerokuCommandWalk {
    /** What a command must do. */
    enum Kind {
        /** In scope, and succeeds (exit 0, printing {@code expect}). */
        WORKS,
        /** In scope; Keel deliberately does not do it: fails in Heroku's error shape saying why ({@code expect}). */
        DECLINED,
        /** In scope, with nothing for it to act on where the walk runs it: fails with the CLI's own sentence saying so ({@code expect}). */
        NOTHING_RUNNING,
        /** Not in scope (apps commands about running code); run where that is safe, to see it answers in Heroku's shape. */
        OUTSIDE
    }

    private static final String WALK = "-a walk";
    private static final String CONFIRM = "-a walk --confirm walk";

    private HerokuCommandWalk() {
    }

    record Step(String command, Kind kind, List<String> args, String expect, Class<?> provenBy) {
        /** Whether the walk runs it (not a command that would open a browser, nor one another class proves). */
        boolean runs() {
            return !args.equals(List.of(NOT_RUN)) && provenBy == null;
        }

        String[] argv(Map<String, String> values) {
            List<String> argv = new ArrayList<>();
            argv.add(command);
            args.forEach(arg -> argv.add(fill(arg, values)));
            return argv.toArray(String[]::new);
        }

        /** Names the walk learns from a command's output: the target's new name. */
        void capture(HerokuCli.Run run, Map<String, String> values) {
            if (command.equals("addons:rename") && run.exit() == 0) {
                values.put("target", args.get(1).replace("{target}", values.get("target")));
            }
        }
    }

    record Result(Step step, HerokuCli.Run run, boolean asExpected, String summary) {
    }

    private static final String NOT_RUN = "(not-run)";

    private static String fill(String text, Map<String, String> values) {
        String filled = text;
        for (Map.Entry<String, String> v : values.entrySet()) {
            filled = filled.replace("{" + v.getKey() + "}", v.getValue());
        }
        return filled;
    }

    private static Step step(String command, Kind kind, String args, String expect) {
        return new Step(command, kind, args.isBlank() ? List.of() : split(args), expect, null);
    }

    /** A command that works, run and checked by {@code test} (which the walk checks still runs it) rather than by the walk. */
    private static Step provenBy(Class<?> test, String command) {
        return new Step(command, WORKS, List.of(), "", test);
    }

    /** Splits on spaces, keeping 'quoted words' together. */
    private static List<String> split(String args) {
        List<String> parts = new ArrayList<>();
        Matcher m = Pattern.compile("'([^']*)'|(\\S+)").matcher(args);
        while (m.find()) {
            parts.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        return parts;
    }

    static List<Step> steps() {
        List<Step> steps = new ArrayList<>(List.of(
                provenBy(HerokuCliTest.class, "apps"),
                provenBy(HerokuCliTest.class, "apps:create"),
                provenBy(HerokuCliTest.class, "apps:info"),
                provenBy(HerokuCliTest.class, "apps:rename"),
                provenBy(HerokuCliTest.class, "apps:destroy"),
                provenBy(HerokuCliTest.class, "addons"),
                step("addons:services", WORKS, "", "heroku-postgresql"),
                step("addons:plans", WORKS, "heroku-postgresql", "heroku-postgresql:standard-0"),
                step("addons:docs", WORKS, "heroku-postgresql --show-url", "heroku-postgresql"),
                provenBy(HerokuCliTest.class, "addons:info"),
                step("addons:open", WORKS, "{main} --show-url " + WALK, "/v1/databases/"),
                step("addons:wait", WORKS, "{main} " + WALK, ""),
                provenBy(HerokuCliTest.class, "addons:create"), // --fork, --follow, --rollback; the walk's own database is made with it too
                provenBy(HerokuCliTest.class, "addons:attach"),
                provenBy(HerokuCliTest.class, "addons:detach"),
                step("addons:rename", WORKS, "{target} {target}-t", "successfully renamed to"),
                step("addons:upgrade", WORKS, "{target} standard-0 " + WALK, "restarting the server for max_connections 120 (was 20)"),
                provenBy(HerokuCliTest.class, "config"),
                provenBy(HerokuCliTest.class, "config:get"),
                step("config:edit", WORKS, WALK, ""),
                step("config:set", DECLINED, "RAILS_ENV=production " + WALK, "Keel keeps no config vars of its own"),
                step("config:unset", DECLINED, "RAILS_ENV " + WALK, "Keel keeps no config vars of its own"),
                provenBy(HerokuCliTest.class, "pg:info"),
                provenBy(HerokuCliTest.class, "pg:wait"),
                provenBy(HerokuCliTest.class, "pg:credentials"),
                provenBy(HerokuCliTest.class, "pg:credentials:create"),
                provenBy(HerokuCliTest.class, "pg:credentials:url"),
                provenBy(HerokuCliTest.class, "pg:credentials:rotate"),
                provenBy(HerokuMaintenanceCliTest.class, "pg:credentials:repair-default"),
                provenBy(HerokuCliTest.class, "pg:credentials:destroy"),
                provenBy(HerokuCliTest.class, "pg:psql"),
                provenBy(HerokuCliTest.class, "pg:ps"),
                provenBy(HerokuCliTest.class, "pg:kill"),
                provenBy(HerokuMaintenanceCliTest.class, "pg:killall"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings"),
                step("pg:settings:log-connections", WORKS, "DATABASE off " + WALK, "log-connections has been set to false"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:log-lock-waits"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:log-min-duration-statement"),
                step("pg:settings:log-min-error-statement", WORKS, "DATABASE log " + WALK, "has been set to log"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:log-statement"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:track-functions"),
                step("pg:settings:auto-explain", WORKS, "DATABASE on " + WALK, "auto-explain has been set to true"), // before its own settings
                step("pg:settings:auto-explain:log-analyze", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-buffers", WORKS, "DATABASE on " + WALK, "has been set to true"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:auto-explain:log-format"),
                provenBy(HerokuSettingsCliTest.class, "pg:settings:auto-explain:log-min-duration"),
                step("pg:settings:auto-explain:log-nested-statements", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-triggers", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-verbose", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:data-connector-details-logs", DECLINED, "DATABASE on " + WALK, "Keel has no data connectors"),
                provenBy(HerokuMaintenanceCliTest.class, "pg:diagnose")));
        for (String extra : List.of("pg:bloat", "pg:blocking", "pg:cache-hit", "pg:calls", "pg:extensions", "pg:index-size", "pg:index-usage",
                "pg:locks", "pg:long-running-queries", "pg:mandelbrot", "pg:outliers", "pg:records-rank", "pg:seq-scans",
                "pg:table-indexes-size", "pg:table-size", "pg:total-index-size", "pg:total-table-size", "pg:unused-indexes",
                "pg:user-connections", "pg:vacuum-stats")) {
            steps.add(step(extra, WORKS, WALK, ""));
        }
        steps.add(provenBy(HerokuMaintenanceCliTest.class, "pg:stats-reset"));
        steps.addAll(List.of(
                step("pg:fdwsql", WORKS, "walkfdw DATABASE " + WALK, "CREATE SERVER walkfdw_db"),
                step("pg:links", DECLINED, WALK, "Keel makes no data links"),
                step("pg:links:create", DECLINED, "TARGET DATABASE --as walklink " + WALK, "Keel makes no data links"),
                step("pg:links:destroy", DECLINED, "DATABASE walklink " + CONFIRM, "Keel makes no data links"),
                step("pg:pull", WORKS, "DATABASE {targetUrl} " + WALK, "Pulling complete."),
                step("pg:reset", WORKS, "TARGET " + CONFIRM, "Resetting {target}... done"),
                step("pg:push", WORKS, "{mainUrl} TARGET " + WALK, "Pushing complete."),
                provenBy(HerokuCliTest.class, "pg:unfollow"),
                provenBy(HerokuCliTest.class, "pg:promote"),
                step("logs", WORKS, "-n 20 -p postgres " + WALK, "app[postgres."),
                // Logical backups, copies, pooling and major upgrades (issue 19).
                provenBy(HerokuBackupsCliTest.class, "pg:backups"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:capture"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:info"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:url"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:download"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:schedule"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:schedules"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:unschedule"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:restore"),
                // HerokuBackupsCliTest cancels a running backup; here there is none to cancel.
                step("pg:backups:cancel", NOTHING_RUNNING, WALK, "No active backups/transfers"),
                provenBy(HerokuBackupsCliTest.class, "pg:backups:delete"),
                provenBy(HerokuBackupsCliTest.class, "pg:copy"),
                step("pg:connection-pooling:attach", WORKS, "DATABASE " + WALK, "Enabling Connection Pooling"),
                provenBy(HerokuUpgradeCliTest.class, "pg:upgrade:dryrun"),
                provenBy(HerokuUpgradeCliTest.class, "pg:upgrade:wait"),
                provenBy(HerokuUpgradeCliTest.class, "pg:upgrade:prepare"),
                provenBy(HerokuUpgradeCliTest.class, "pg:upgrade:cancel"),
                provenBy(HerokuUpgradeCliTest.class, "pg:upgrade:run"),
                provenBy(HerokuCliTest.class, "addons:destroy"),
                // Not in scope: apps commands about running code, collaborators and favourites.
                step("apps:diff", OUTSIDE, "walk walk-other", ""),
                // These call Heroku's own hosts (api.metrics.herokai.com, particleboard.heroku.com), which no variable points at
                // Keel: they would send the key there and never reach Keel.
                step("apps:errors", OUTSIDE, NOT_RUN, ""),
                step("apps:favorites", OUTSIDE, NOT_RUN, ""),
                step("apps:favorites:add", OUTSIDE, NOT_RUN, ""),
                step("apps:favorites:remove", OUTSIDE, NOT_RUN, ""),
                step("apps:join", OUTSIDE, WALK, ""),
                step("apps:leave", OUTSIDE, WALK, ""),
                step("apps:lock", OUTSIDE, WALK, ""),
                step("apps:open", OUTSIDE, NOT_RUN, ""), // it opens a browser
                step("apps:stacks", OUTSIDE, WALK, ""),
                step("apps:stacks:set", OUTSIDE, "heroku-24 " + WALK, ""),
                step("apps:transfer", OUTSIDE, "someone@example.com " + CONFIRM, ""),
                step("apps:unlock", OUTSIDE, WALK, "")));
        return steps;
    }

    static Set<String> commands() {
        Set<String> commands = new LinkedHashSet<>();
        steps().forEach(s -> commands.add(s.command()));
        return commands;
    }

    static Result judge(Step step, HerokuCli.Run run, Map<String, String> values) {
        if (run == null) {
            return new Result(step, null, true, step.provenBy() == null ? "not run" : "proven by " + step.provenBy().getSimpleName());
        }
        String output = run.all();
        String first = Arrays.stream(output.split("\n")).map(l -> l.replaceAll("^[\\s›]+", "").strip())
                .filter(l -> l.startsWith("Error:")).findFirst().orElse(run.exit() == 0 ? "works" : "exit " + run.exit());
        boolean as = switch (step.kind()) {
            case WORKS -> run.exit() == 0 && output.contains(fill(step.expect(), values));
            case DECLINED -> run.exit() != 0 && output.contains("Error ID:")
                    && output.replaceAll("\\s*\\n\\s*›?\\s*", " ").contains(fill(step.expect(), values));
            case NOTHING_RUNNING -> run.exit() != 0 && output.contains(fill(step.expect(), values));
            case OUTSIDE -> true;
        };
        return new Result(step, run, as, first.length() > 110 ? first.substring(0, 107) + "..." : first);
    }

    static String table(List<Result> results) {
        StringBuilder table = new StringBuilder(String.format("%-46s %-9s %-4s %s%n", "command", "kind", "exit", "result"));
        for (Result r : results) {
            table.append(String.format("%-46s %-9s %-4s %s%s%n", r.step().command(), r.step().kind(), r.run() == null ? "-" : r.run().exit(),
                    r.asExpected() ? "" : "UNEXPECTED: ", r.summary()));
        }
        long inScope = results.stream().filter(r -> r.step().kind() != OUTSIDE).count();
        long works = results.stream().filter(r -> r.step().kind() == WORKS && r.asExpected()).count();
        long declined = results.stream().filter(r -> r.step().kind() == DECLINED && r.asExpected()).count();
        long nothing = results.stream().filter(r -> r.step().kind() == NOTHING_RUNNING && r.asExpected()).count();
        table.append(String.format("%nIn scope: %d steps; %d work, %d are declined with Heroku's error shape and a reason, %d found"
                + " nothing to act on and said so.%n", inScope, works, declined, nothing));
        return table.toString();
    }
}
