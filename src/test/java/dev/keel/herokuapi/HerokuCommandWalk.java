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
 * ({@code {main}}, {@code {target}}, {@code {follower}}, {@code {mainUrl}}, {@code {targetUrl}}
 * stand for the walk's databases) and what it must do.
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

    private static final Pattern CREATED = Pattern.compile("Created (postgresql-[a-z]+-\\d+) as ");
    private static final Pattern BACKED_UP = Pattern.compile(" to (b\\d{3,})\\.\\.\\. done");
    private static final String WALK = "-a walk";
    private static final String CONFIRM = "-a walk --confirm walk";

    private HerokuCommandWalk() {
    }

    record Step(String command, Kind kind, List<String> args, String expect) {
        /** Whether the walk runs it (not a command that would open a browser). */
        boolean runs() {
            return !args.equals(List.of(NOT_RUN));
        }

        String[] argv(Map<String, String> values) {
            List<String> argv = new ArrayList<>();
            argv.add(command);
            args.forEach(arg -> argv.add(fill(arg, values)));
            return argv.toArray(String[]::new);
        }

        /** Names the walk learns from a command's output: the follower it made, the target's new name. */
        void capture(HerokuCli.Run run, Map<String, String> values) {
            Matcher created = CREATED.matcher(run.all());
            if (command.equals("addons:create") && created.find()) {
                values.put("follower", created.group(1));
            }
            if (command.equals("addons:rename") && run.exit() == 0) {
                values.put("target", args.get(1).replace("{target}", values.get("target")));
            }
            Matcher backup = BACKED_UP.matcher(run.all());
            if (command.equals("pg:backups:capture") && backup.find()) {
                values.put("backup", backup.group(1)); // numbered across the installation, so learnt, not assumed
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
        return new Step(command, kind, args.isBlank() ? List.of() : split(args), expect);
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
                step("apps", WORKS, "", "walk-other"),
                step("apps:create", WORKS, "walk-made", "Creating walk-made... done"),
                step("apps:info", WORKS, WALK, "=== walk"),
                step("apps:rename", WORKS, "walk-renamed -a walk-made", "Renaming walk-made to walk-renamed... done"),
                step("apps:destroy", WORKS, "-a walk-renamed --confirm walk-renamed", "Destroying walk-renamed (including all add-ons)"),
                step("addons", WORKS, WALK, "heroku-postgresql ({main})"),
                step("addons:services", WORKS, "", "heroku-postgresql"),
                step("addons:plans", WORKS, "heroku-postgresql", "heroku-postgresql:standard-0"),
                step("addons:docs", WORKS, "heroku-postgresql --show-url", "heroku-postgresql"),
                step("addons:info", WORKS, "{main}", "heroku-postgresql:standard-0"),
                step("addons:open", WORKS, "{main} --show-url " + WALK, "/v1/databases/"),
                step("addons:wait", WORKS, "{main} " + WALK, ""),
                step("addons:create", WORKS, "heroku-postgresql:standard-0 " + CONFIRM + " --wait -- --follow DATABASE", "Created postgresql-"),
                step("addons:attach", WORKS, "{main} -a walk-other --as MAIN", "as MAIN to walk-other... done"),
                step("addons:detach", WORKS, "MAIN -a walk-other", "from walk-other... done"),
                step("addons:rename", WORKS, "{target} {target}-t", "successfully renamed to"),
                step("addons:upgrade", WORKS, "{target} standard-0 " + WALK, "restarting the server for max_connections 120 (was 20)"),
                step("config", WORKS, WALK, "DATABASE_URL"),
                step("config:get", WORKS, "DATABASE_URL " + WALK, "postgres://"),
                step("config:edit", WORKS, WALK, ""),
                step("config:set", DECLINED, "RAILS_ENV=production " + WALK, "Keel keeps no config vars of its own"),
                step("config:unset", DECLINED, "RAILS_ENV " + WALK, "Keel keeps no config vars of its own"),
                step("pg:info", WORKS, WALK, "=== DATABASE_URL"),
                step("pg:wait", WORKS, WALK, ""),
                step("pg:credentials", WORKS, WALK, "default"),
                step("pg:credentials:create", WORKS, "--name walker " + WALK, "Creating credential walker... done"),
                step("pg:credentials:url", WORKS, "--name walker " + WALK, "Connection information for walker credential"),
                step("pg:credentials:rotate", WORKS, "--name walker " + CONFIRM, "Rotating walker on {main}... done"),
                step("pg:credentials:repair-default", WORKS, CONFIRM, "factory settings... done"),
                step("pg:credentials:destroy", WORKS, "--name walker " + CONFIRM, "The credential has been destroyed"),
                step("pg:psql", WORKS, "-c 'select count(*) from items' " + WALK, "1000"),
                step("pg:ps", WORKS, WALK, "pid"),
                step("pg:kill", WORKS, "999999 " + WALK, "pg_cancel_backend"),
                step("pg:killall", WORKS, WALK, "Terminating connections for all credentials... done"),
                step("pg:settings", WORKS, WALK, "log-statement:"),
                step("pg:settings:log-connections", WORKS, "DATABASE off " + WALK, "log-connections has been set to false"),
                step("pg:settings:log-lock-waits", WORKS, "DATABASE on " + WALK, "log-lock-waits has been set to true"),
                step("pg:settings:log-min-duration-statement", WORKS, "DATABASE 2000 " + WALK, "has been set to 2000"),
                step("pg:settings:log-min-error-statement", WORKS, "DATABASE log " + WALK, "has been set to log"),
                step("pg:settings:log-statement", WORKS, "DATABASE ddl " + WALK, "log-statement has been set to ddl"),
                step("pg:settings:track-functions", WORKS, "DATABASE pl " + WALK, "track-functions has been set to pl"),
                step("pg:settings:auto-explain", WORKS, "DATABASE on " + WALK, "auto-explain has been set to true"),
                step("pg:settings:auto-explain:log-analyze", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-buffers", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-format", WORKS, "DATABASE json " + WALK, "has been set to json"),
                step("pg:settings:auto-explain:log-min-duration", WORKS, "DATABASE 1000 " + WALK, "has been set to 1000"),
                step("pg:settings:auto-explain:log-nested-statements", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-triggers", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:auto-explain:log-verbose", WORKS, "DATABASE on " + WALK, "has been set to true"),
                step("pg:settings:data-connector-details-logs", DECLINED, "DATABASE on " + WALK, "Keel has no data connectors"),
                step("pg:diagnose", WORKS, WALK, "GREEN: Connection Count")));
        for (String extra : List.of("pg:bloat", "pg:blocking", "pg:cache-hit", "pg:calls", "pg:extensions", "pg:index-size", "pg:index-usage",
                "pg:locks", "pg:long-running-queries", "pg:mandelbrot", "pg:outliers", "pg:records-rank", "pg:seq-scans",
                "pg:table-indexes-size", "pg:table-size", "pg:total-index-size", "pg:total-table-size", "pg:unused-indexes",
                "pg:user-connections", "pg:vacuum-stats", "pg:stats-reset")) {
            steps.add(step(extra, WORKS, WALK, ""));
        }
        steps.addAll(List.of(
                step("pg:fdwsql", WORKS, "walkfdw DATABASE " + WALK, "CREATE SERVER walkfdw_db"),
                step("pg:links", DECLINED, WALK, "Keel makes no data links"),
                step("pg:links:create", DECLINED, "TARGET DATABASE --as walklink " + WALK, "Keel makes no data links"),
                step("pg:links:destroy", DECLINED, "DATABASE walklink " + CONFIRM, "Keel makes no data links"),
                step("pg:pull", WORKS, "DATABASE {targetUrl} " + WALK, "Pulling complete."),
                step("pg:reset", WORKS, "TARGET " + CONFIRM, "Resetting {target}... done"),
                step("pg:push", WORKS, "{mainUrl} TARGET " + WALK, "Pushing complete."),
                step("pg:unfollow", WORKS, "{follower} " + CONFIRM, "{follower} unfollowing... done"),
                step("pg:promote", WORKS, "{follower} " + WALK, "to DATABASE_URL on walk... done"),
                step("logs", WORKS, "-n 20 -p postgres " + WALK, "app[postgres."),
                // Logical backups, copies, pooling and major upgrades (issue 19).
                step("pg:backups", WORKS, WALK, "=== Backups"),
                step("pg:backups:capture", WORKS, WALK, "Backing up "),
                step("pg:backups:info", WORKS, WALK, "=== Backup b"),
                step("pg:backups:url", WORKS, WALK, "https://"),
                step("pg:backups:download", WORKS, "--output /dev/null " + WALK, "Getting backup from walk"),
                step("pg:backups:schedule", WORKS, "DATABASE --at '02:00 UTC' " + WALK, "at 02:00 UTC... done"),
                // The CLI lists the schedules of an arbitrary database of the app: "=== Backup Schedules" or "No backup schedules found".
                step("pg:backups:schedules", WORKS, WALK, "chedules"),
                step("pg:backups:unschedule", WORKS, "DATABASE " + WALK, "Unscheduling"),
                step("pg:backups:restore", WORKS, CONFIRM, "Starting restore of"), // the app's newest backup into DATABASE
                step("pg:backups:cancel", NOTHING_RUNNING, WALK, "No active backups/transfers"),
                step("pg:backups:delete", WORKS, "{backup} " + CONFIRM, "Deleting backup {backup} on walk... done"),
                step("pg:copy", WORKS, "DATABASE TARGET --confirm TARGET " + WALK, "Copying... done"),
                step("pg:connection-pooling:attach", WORKS, "DATABASE " + WALK, "Enabling Connection Pooling"),
                step("pg:upgrade:dryrun", WORKS, "TARGET " + CONFIRM, "Testing an upgrade of a copy of"),
                step("pg:upgrade:wait", WORKS, "TARGET --wait-interval 1 " + WALK, "the copy was removed"),
                step("pg:upgrade:prepare", WORKS, "TARGET " + CONFIRM, "ready to upgrade to Postgres"),
                step("pg:upgrade:cancel", WORKS, "TARGET " + CONFIRM, "is canceled"),
                step("pg:upgrade:prepare", WORKS, "TARGET " + CONFIRM, "ready to upgrade to Postgres"),
                step("pg:upgrade:run", WORKS, "TARGET " + CONFIRM, "Upgrading"),
                step("pg:upgrade:wait", WORKS, "TARGET --wait-interval 1 " + WALK, "writes paused"),
                step("addons:destroy", WORKS, "{target} " + CONFIRM, "Destroying {target} on walk... done"),
                // Not in scope: apps commands about running code, collaborators and favourites.
                step("apps:diff", OUTSIDE, "walk walk-other", ""),
                step("apps:errors", OUTSIDE, WALK, ""),
                step("apps:favorites", OUTSIDE, "", ""),
                step("apps:favorites:add", OUTSIDE, WALK, ""),
                step("apps:favorites:remove", OUTSIDE, WALK, ""),
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
            return new Result(step, null, true, "not run");
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
