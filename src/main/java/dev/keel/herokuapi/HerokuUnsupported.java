package dev.keel.herokuapi;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Why Keel does not answer a call of Heroku's Platform API that the Heroku CLI makes: one
 * sentence per area Keel deliberately leaves out (it manages Postgres databases and the apps that
 * use them, and runs no code), and one for any other path. Rendered as Heroku's {@code not_found}.
 */
final class HerokuUnsupported {
    private record Area(Pattern path, String reason) {
    }

    private static final String APP = "/apps/[^/]+";
    private static final List<Area> AREAS = List.of(
            area(APP + "/(dynos|formation|ps|dyno-sizes)(/.*)?|/dyno-sizes(/.*)?",
                    "Keel runs no dynos: it manages Postgres databases and the apps that use them, while your app's processes run"
                            + " wherever you deploy them (heroku ps, run, scale and restart do not apply)."),
            area(APP + "/(buildpack-installations|builds|slugs|build-cache|sources|release-phase)(/.*)?|/buildpacks(/.*)?|/sources(/.*)?|/stacks(/.*)?",
                    "Keel builds and runs no code, so there is no git push, build, slug or buildpack here: deploy your app where it runs"
                            + " and give it its config vars (heroku config -a APP)."),
            area(APP + "/(domains|sni-endpoints|ssl-endpoints|acm)(/.*)?",
                    "Keel serves no web traffic for apps, so it has no domains or certificates for them; Postgres connections are TLS"
                            + " with Keel's CA (GET /v1/ca.pem)."),
            area(APP + "/config-vars",
                    "Keel keeps no config vars of its own: an app's config vars here are the URLs its attachments give"
                            + " (heroku addons:attach and addons:detach change them); keep your app's other settings where it runs."),
            area("/client/v11/databases/[^/]+/links(/.*)?",
                    "Keel makes no data links between databases (postgres_fdw connections it would manage); connect your app to"
                            + " each database it needs instead."),
            area(APP + "/log-drains(/.*)?",
                    "Keel keeps no log drains: read the attached databases' server logs with heroku logs -a APP -p postgres."),
            area("/pipelines(/.*)?|/pipeline-couplings(/.*)?|/pipeline-promotions(/.*)?|/review-apps(/.*)?|" + APP
                            + "/(pipeline-couplings|review-app-config)(/.*)?",
                    "Keel has no pipelines or review apps: an app here is a consumer of databases, not a deployment."),
            area("/spaces(/.*)?", "Keel has no private spaces: its databases run on the machines Keel runs on."),
            area(APP + "/(collaborators|transfers)(/.*)?|/account/app-transfers(/.*)?|/teams/[^/]+/(members|invitations)(/.*)?"
                            + "|/teams/[^/]+|/teams",
                    "Keel's teams and API keys stand for Heroku's accounts and collaborators: an admin makes teams (POST /v1/teams)"
                            + " and a team its keys (POST /v1/api-keys)."),
            area(APP + "/(features|labs)(/.*)?|/account/features(/.*)?",
                    "Keel has no Heroku Labs features."),
            area(APP + "/(webhooks|webhook-deliveries|webhook-events)(/.*)?",
                    "Keel sends no app webhooks."),
            area(APP + "/addons/[^/]+/(sso|actions)(/.*)?|/addons/[^/]+/(sso|actions)(/.*)?",
                    "Keel has no add-on dashboard to sign in to: a database's details are under /v1/databases/{id} (heroku pg:info)."),
            area(APP + "/releases/[^/]+/rollback|" + APP + "/releases",
                    "A Keel app's releases are its config var changes, made by attaching and detaching databases; there is nothing to"
                            + " roll back to."),
            area("/oauth/(.*)|/account/keys(/.*)?|/account/(password|sms-number)(/.*)?",
                    "Keel authenticates with its API keys (HEROKU_API_KEY); it has no OAuth, SSH keys or passwords."));

    private HerokuUnsupported() {
    }

    private static Area area(String regex, String reason) {
        return new Area(Pattern.compile(regex), reason);
    }

    /** Why {@code method path} is not served. */
    static String reason(String method, String path) {
        for (Area area : AREAS) {
            if (area.path().matcher(path).matches()) {
                return area.reason();
            }
        }
        return "Keel serves the Heroku CLI's apps, addons, config, pg and logs commands against its Postgres databases; " + method
                + " " + path + " is not a call those commands make, so Keel does not answer it.";
    }
}
