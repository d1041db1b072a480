package dev.keel.http;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A valid request for every route Keel answers, which {@link BadInputTest} spoils one input at a
 * time. Paths and bodies name the owner's resources as {@code <db>}, {@code <app>}, ... A route
 * added to Keel without an entry here fails that test: add one, with every input it reads.
 */
final class RouteInputs {
    /** What a body field is, and so which spoilt values it must refuse. */
    enum Kind {
        /** A name, plan, reference or enum: refuses every odd value. */
        TOKEN,
        /** Free text with a length limit: refuses wrong types, NUL, lone surrogates and 10,000 characters. */
        TEXT,
        /** Free text without a limit (SQL) or a wish Keel may ignore (a platform's name): refuses wrong types, NUL, lone surrogates. */
        FREE,
        INT,
        BOOL,
        /** A flag in Heroku's add-on config: true, or "true"/"false" as the CLI's --fast=false sends it. */
        FLAG,
        /** A major version: a number or a string. */
        VERSION,
        /** A time span such as "2 hours". */
        SPAN,
        /** An RFC 3339 time. */
        TIME,
        /** A JSON object of text values. */
        MAP,
        /** A nested JSON object such as Heroku's {"name": ...}. */
        OBJECT,
        /** A JSON array of names (extensions): refuses other types and odd elements. */
        LIST
    }

    record Field(String path, Kind kind) {
    }

    /**
     * One valid request: {@code route} is "METHOD template" as the router lists it; {@code path} the
     * same with the owner's resources; {@code body} JSON, or null when the route takes none;
     * {@code bodyOptional} when no body at all is valid; {@code query} a declared boolean query
     * parameter, or null.
     */
    record Input(String route, String path, String body, boolean bodyOptional, List<Field> fields, String booleanQuery) {
        String method() {
            return route.substring(0, route.indexOf(' '));
        }
    }

    /** A uuid that names nothing, for resources the fixture does not make (see where it is used). */
    private static final String NO_SUCH_ID = "00000000-0000-4000-8000-00000000f022";
    private static final List<Input> ALL = new ArrayList<>();

    private static void get(String route, String path) {
        ALL.add(new Input(route, path, null, false, List.of(), null));
    }

    private static void call(String route, String path) {
        get(route, path);
    }

    private static void body(String route, String path, String body, Field... fields) {
        ALL.add(new Input(route, path, body, false, Arrays.asList(fields), null));
    }

    private static void optionalBody(String route, String path, String body, Field... fields) {
        ALL.add(new Input(route, path, body, true, Arrays.asList(fields), null));
    }

    private static Field f(String path, Kind kind) {
        return new Field(path, kind);
    }

    static {
        // Public documents.
        get("GET /health", "/health");
        get("GET /health/live", "/health/live");
        get("GET /problems/{slug}", "/problems/not-found");
        get("GET /v1/plans", "/v1/plans");
        get("GET /v1/ca.pem", "/v1/ca.pem");
        get("GET /dataclips/{file}", "/dataclips/<slug>.csv");
        get("GET /dataclips/assets/dataclip.css", "/dataclips/assets/dataclip.css");

        // Teams and keys.
        body("POST /v1/teams", "/v1/teams", "{\"name\":\"fuzz-made-team\"}", f("name", Kind.TOKEN));
        get("GET /v1/teams", "/v1/teams");

        // Nodes: only the admin key may, so every caller here is refused before the node is looked up.
        get("GET /v1/nodes", "/v1/nodes");
        call("POST /v1/nodes/{name}/drain", "/v1/nodes/fuzz-node/drain");
        call("POST /v1/nodes/{name}/activate", "/v1/nodes/fuzz-node/activate");
        optionalBody("POST /v1/nodes/{name}/forget", "/v1/nodes/fuzz-node/forget", "{\"confirm\":\"fuzz-node\"}", f("confirm", Kind.TOKEN));
        optionalBody("POST /v1/api-keys", "/v1/api-keys", "{\"name\":\"fuzz key\"}", f("name", Kind.TEXT));
        get("GET /v1/api-keys", "/v1/api-keys");
        call("DELETE /v1/api-keys/{id}", "/v1/api-keys/<apikey>");

        // Databases.
        body("POST /v1/databases", "/v1/databases", "{\"plan\":\"standard-0\",\"name\":\"fuzz-made-db\",\"version\":17}",
                f("plan", Kind.TOKEN), f("name", Kind.TOKEN), f("version", Kind.VERSION));
        body("POST /v1/databases", "/v1/databases", "{\"plan\":\"standard-0\",\"fork\":\"<db>\",\"fast\":true}",
                f("plan", Kind.TOKEN), f("fork", Kind.TOKEN), f("fast", Kind.BOOL));
        body("POST /v1/databases", "/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"<db>\",\"by\":\"1 second\"}",
                f("rollback", Kind.TOKEN), f("by", Kind.SPAN));
        body("POST /v1/databases", "/v1/databases", "{\"plan\":\"standard-0\",\"rollback\":\"<db>\",\"to\":\"<now>\"}",
                f("to", Kind.TIME));
        body("POST /v1/databases", "/v1/databases", "{\"plan\":\"standard-0\",\"follow\":\"<db>\"}", f("follow", Kind.TOKEN));
        get("GET /v1/databases", "/v1/databases");
        get("GET /v1/databases/{idOrName}", "/v1/databases/<db>");
        get("GET /v1/databases/{idOrName}/info", "/v1/databases/<db>/info");
        body("PATCH /v1/databases/{idOrName}", "/v1/databases/<db>", "{\"plan\":\"premium-0\"}", f("plan", Kind.TOKEN));
        ALL.add(new Input("DELETE /v1/databases/{idOrName}", "/v1/databases/<db>", null, false, List.of(), "unfollow_followers"));
        call("POST /v1/databases/{idOrName}/unfollow", "/v1/databases/<db>/unfollow");
        get("GET /v1/databases/{idOrName}/credentials", "/v1/databases/<db>/credentials");
        body("POST /v1/databases/{idOrName}/credentials", "/v1/databases/<db>/credentials", "{\"name\":\"fuzz-made\"}", f("name", Kind.TOKEN));
        optionalBody("POST /v1/databases/{idOrName}/credentials/{name}/rotate", "/v1/databases/<db>/credentials/<credential>/rotate",
                "{\"force\":false}", f("force", Kind.BOOL));
        call("DELETE /v1/databases/{idOrName}/credentials/{name}", "/v1/databases/<db>/credentials/<credential>");
        call("POST /v1/databases/{database}/backups", "/v1/databases/<db>/backups");
        get("GET /v1/databases/{database}/backups", "/v1/databases/<db>/backups");
        get("GET /v1/databases/{database}/backups/{backup}", "/v1/databases/<db>/backups/<backup>");
        get("GET /v1/databases/{database}/backup-schedule", "/v1/databases/<db>/backup-schedule");
        body("PUT /v1/databases/{database}/backup-schedule", "/v1/databases/<db>/backup-schedule", "{\"hour\":5}", f("hour", Kind.INT));
        get("GET /v1/databases/{database}/archive", "/v1/databases/<db>/archive");
        get("GET /v1/databases/{database}/ha", "/v1/databases/<db>/ha");
        call("POST /v1/databases/{database}/failover", "/v1/databases/<db>/failover");
        get("GET /v1/operations/{id}", "/v1/operations/<operation>");

        // Apps.
        body("POST /v1/apps", "/v1/apps", "{\"name\":\"fuzz-made-app\"}", f("name", Kind.TOKEN));
        get("GET /v1/apps", "/v1/apps");
        get("GET /v1/apps/{app}", "/v1/apps/<app>");
        call("DELETE /v1/apps/{app}", "/v1/apps/<app>");
        body("POST /v1/apps/{app}/attachments", "/v1/apps/<app>/attachments",
                "{\"database\":\"<db>\",\"as\":\"FUZZ_MADE\",\"credential\":\"<credential>\"}",
                f("database", Kind.TOKEN), f("as", Kind.TOKEN), f("credential", Kind.TOKEN));
        get("GET /v1/apps/{app}/attachments", "/v1/apps/<app>/attachments");
        call("DELETE /v1/apps/{app}/attachments/{name}", "/v1/apps/<app>/attachments/DATABASE");
        get("GET /v1/apps/{app}/config-vars", "/v1/apps/<app>/config-vars");

        // Dataclips.
        body("POST /v1/dataclips", "/v1/dataclips",
                "{\"title\":\"fuzz made\",\"database\":\"<db>\",\"sql\":\"select {{n}}::int as n\",\"parameters\":{\"n\":\"1\"},"
                        + "\"timeout_seconds\":30}",
                f("title", Kind.TEXT), f("database", Kind.TOKEN), f("sql", Kind.FREE), f("parameters", Kind.MAP),
                f("timeout_seconds", Kind.INT));
        get("GET /v1/dataclips", "/v1/dataclips");
        get("GET /v1/dataclips/{id}", "/v1/dataclips/<clip>");
        body("PATCH /v1/dataclips/{id}", "/v1/dataclips/<clip>", "{\"title\":\"fuzz renamed\",\"sql\":\"select 2 as n\",\"timeout_seconds\":20}",
                f("title", Kind.TEXT), f("sql", Kind.FREE), f("timeout_seconds", Kind.INT));
        call("DELETE /v1/dataclips/{id}", "/v1/dataclips/<clip>");
        call("POST /v1/dataclips/{id}/refresh", "/v1/dataclips/<clip>/refresh");
        get("GET /v1/dataclips/{id}/versions", "/v1/dataclips/<clip>/versions");
        call("POST /v1/dataclips/{id}/share", "/v1/dataclips/<clip>/share");
        get("GET /v1/dataclips/{id}/share", "/v1/dataclips/<clip>/share");
        call("DELETE /v1/dataclips/{id}/share", "/v1/dataclips/<clip>/share");

        // The Add-on Partner API.
        body("POST /heroku/resources", "/heroku/resources",
                "{\"uuid\":\"<new-uuid>\",\"plan\":\"essential-0\",\"callback_url\":\"https://platform.invalid/addons/x\",\"name\":\"fuzz-made\"}",
                f("uuid", Kind.TOKEN), f("plan", Kind.TOKEN), f("callback_url", Kind.TOKEN), f("name", Kind.FREE));
        body("PUT /heroku/resources/{id}", "/heroku/resources/<resource>", "{\"plan\":\"standard-0\"}", f("plan", Kind.TOKEN));
        call("DELETE /heroku/resources/{id}", "/heroku/resources/<resource>");

        // Heroku's Platform API.
        get("GET /addon-attachments", "/addon-attachments");
        get("GET /apps/{app}/addon-attachments", "/apps/<app>/addon-attachments");
        get("GET /apps/{app}/addon-attachments/{name}", "/apps/<app>/addon-attachments/DATABASE");
        get("GET /addons/{addon}/addon-attachments", "/addons/<dbname>/addon-attachments");
        body("POST /actions/addon-attachments/resolve", "/actions/addon-attachments/resolve", "{\"addon_attachment\":\"DATABASE\",\"app\":\"<app>\"}",
                f("addon_attachment", Kind.TOKEN), f("app", Kind.TOKEN));
        body("POST /addon-attachments", "/addon-attachments", "{\"addon\":{\"name\":\"<dbname>\"},\"app\":{\"name\":\"<app>\"},\"name\":\"FUZZ_MADE\"}",
                f("addon", Kind.OBJECT), f("addon.name", Kind.TOKEN), f("app", Kind.OBJECT), f("app.name", Kind.TOKEN), f("name", Kind.TOKEN));
        call("DELETE /addon-attachments/{id}", "/addon-attachments/<attachment>");
        get("GET /addons/{addon}/config/{key}", "/addons/<dbname>/config/credential:<credential>");
        get("GET /apps/{app}/config-vars", "/apps/<app>/config-vars");
        get("GET /apps/{app}/releases", "/apps/<app>/releases");
        get("GET /apps/{app}/releases/{id}", "/apps/<app>/releases/<release>");
        get("GET /apps/{app}/formation", "/apps/<app>/formation");
        body("POST /apps/{app}/addons", "/apps/<app>/addons",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"name\":\"fuzz-made-addon\",\"config\":{\"version\":\"17\"},"
                        + "\"attachment\":{\"name\":\"FUZZ_MADE\"}}",
                f("plan", Kind.OBJECT), f("plan.name", Kind.TOKEN), f("name", Kind.TOKEN), f("config", Kind.OBJECT),
                f("config.version", Kind.VERSION), f("attachment", Kind.OBJECT), f("attachment.name", Kind.TOKEN));
        body("POST /apps/{app}/addons", "/apps/<app>/addons",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"config\":{\"fork\":\"<dbname>\",\"fast\":true}}",
                f("config.fork", Kind.TOKEN), f("config.fast", Kind.FLAG));
        body("POST /apps/{app}/addons", "/apps/<app>/addons",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"config\":{\"rollback\":\"<dbname>\",\"by\":\"1 second\"}}",
                f("config.rollback", Kind.TOKEN), f("config.by", Kind.SPAN));
        body("POST /apps/{app}/addons", "/apps/<app>/addons",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"config\":{\"rollback\":\"<dbname>\",\"to\":\"<now>\"}}",
                f("config.to", Kind.TIME));
        body("POST /apps/{app}/addons", "/apps/<app>/addons",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"config\":{\"follow\":\"<dbname>\"}}", f("config.follow", Kind.TOKEN));
        get("GET /apps/{app}/addons", "/apps/<app>/addons");
        get("GET /apps/{app}/addons/{addon}", "/apps/<app>/addons/<dbname>");
        get("GET /addons", "/addons");
        get("GET /addons/{addon}", "/addons/<dbname>");
        body("POST /actions/addons/resolve", "/actions/addons/resolve", "{\"addon\":\"<dbname>\",\"app\":\"<app>\"}",
                f("addon", Kind.TOKEN), f("app", Kind.TOKEN));
        call("DELETE /apps/{app}/addons/{addon}", "/apps/<app>/addons/<dbname>");

        // Heroku's Data API.
        get("GET /client/v11/databases/{addon}", "/client/v11/databases/<dbname>");
        get("GET /client/v11/databases/{addon}/wait_status", "/client/v11/databases/<dbname>/wait_status");
        call("PUT /client/v11/databases/{addon}/unfollow", "/client/v11/databases/<dbname>/unfollow");
        get("GET /postgres/v0/databases/{addon}/credentials", "/postgres/v0/databases/<dbname>/credentials");
        get("GET /postgres/v0/databases/{addon}/credentials/{name}", "/postgres/v0/databases/<dbname>/credentials/<credential>");
        body("POST /postgres/v0/databases/{addon}/credentials", "/postgres/v0/databases/<dbname>/credentials", "{\"name\":\"fuzz-made\"}",
                f("name", Kind.TOKEN));
        call("DELETE /postgres/v0/databases/{addon}/credentials/{name}", "/postgres/v0/databases/<dbname>/credentials/<credential>");
        optionalBody("POST /postgres/v0/databases/{addon}/credentials/{name}/credentials_rotation",
                "/postgres/v0/databases/<dbname>/credentials/<credential>/credentials_rotation", "{\"forced\":false}", f("forced", Kind.BOOL));
        optionalBody("POST /postgres/v0/databases/{addon}/credentials_rotation", "/postgres/v0/databases/<dbname>/credentials_rotation",
                "{\"forced\":false}", f("forced", Kind.BOOL));
        call("POST /client/v11/databases/{addon}/backups", "/client/v11/databases/<dbname>/backups");
        get("GET /client/v11/apps/{app}/transfers", "/client/v11/apps/<app>/transfers");
        get("GET /client/v11/apps/{app}/transfers/{id}", "/client/v11/apps/<app>/transfers/<transfernum>");
        call("DELETE /client/v11/apps/{app}/transfers/{id}", "/client/v11/apps/<app>/transfers/<transfernum>");
        call("POST /client/v11/apps/{app}/transfers/{id}/actions/public-url", "/client/v11/apps/<app>/transfers/<transfernum>/actions/public-url");
        call("POST /client/v11/apps/{app}/transfers/{id}/actions/cancel", "/client/v11/apps/<app>/transfers/<transfer>/actions/cancel");
        body("POST /client/v11/databases/{addon}/restores", "/client/v11/databases/<dbname>/restores",
                "{\"backup_url\":\"b<transfernum>\",\"extensions\":[\"hstore\"]}", f("backup_url", Kind.TOKEN), f("extensions", Kind.LIST));
        // pg:copy: a source that is none of the team's databases, so even a body left whole would be refused.
        body("POST /client/v11/databases/{addon}/transfers", "/client/v11/databases/<dbname>/transfers",
                "{\"from_name\":\"SOURCE\",\"from_url\":\"postgres://u:p@localhost:1/nosuch\",\"to_name\":\"DATABASE\","
                        + "\"to_url\":\"postgres://u:p@localhost:2/other\"}",
                f("from_name", Kind.TOKEN), f("from_url", Kind.TOKEN), f("to_name", Kind.TOKEN), f("to_url", Kind.TOKEN));
        get("GET /client/v11/databases/{addon}/transfer-schedules", "/client/v11/databases/<dbname>/transfer-schedules");
        body("POST /client/v11/databases/{addon}/transfer-schedules", "/client/v11/databases/<dbname>/transfer-schedules",
                "{\"hour\":\"4\",\"timezone\":\"Europe/Paris\",\"schedule_name\":\"DATABASE_URL\"}",
                f("hour", Kind.TOKEN), f("timezone", Kind.TOKEN), f("schedule_name", Kind.TOKEN));
        call("DELETE /client/v11/databases/{addon}/transfer-schedules/{id}", "/client/v11/databases/<dbname>/transfer-schedules/<schedule>");
        get("GET /client/v11/databases/{addon}/metrics", "/client/v11/databases/<dbname>/metrics");
        get("GET /client/v11/databases/{addon}/burst_status", "/client/v11/databases/<dbname>/burst_status");
        body("POST /client/v11/databases/{addon}/connection-pooling", "/client/v11/databases/<dbname>/connection-pooling",
                "{\"app\":\"<app>\",\"credential\":\"default\",\"name\":\"DATABASE_CONNECTION_POOL\"}",
                f("app", Kind.TOKEN), f("credential", Kind.TOKEN), f("name", Kind.TOKEN));
        call("POST /client/v11/databases/{addon}/connection_reset", "/client/v11/databases/<dbname>/connection_reset");
        call("POST /postgres/v0/databases/{addon}/repair-default", "/postgres/v0/databases/<dbname>/repair-default");
        call("PUT /client/v11/databases/{addon}/stats_reset", "/client/v11/databases/<dbname>/stats_reset");
        optionalBody("PUT /client/v11/databases/{addon}/reset", "/client/v11/databases/<dbname>/reset", "{\"extensions\":[\"hstore\"]}",
                f("extensions", Kind.LIST));
        get("GET /postgres/v0/databases/{addon}/config", "/postgres/v0/databases/<dbname>/config");
        // log_min_duration_statement takes a number or its digits as text, and -1 (off): no Kind fits it, so only log_statement is spoilt.
        body("PATCH /postgres/v0/databases/{addon}/config", "/postgres/v0/databases/<dbname>/config",
                "{\"log_statement\":\"ddl\",\"log_min_duration_statement\":2000}", f("log_statement", Kind.TOKEN));
        // The fixture prepared an upgrade, so prepare, cancel and wait_status answer about it. Run and dry run would start an
        // upgrade (a new server and a copy, minutes on a loaded machine), so they name an add-on that does not exist: their
        // bodies are still read, and their 404 answered.
        optionalBody("POST /client/v11/databases/{addon}/upgrade/prepare", "/client/v11/databases/<dbname>/upgrade/prepare",
                "{\"version\":\"17\"}", f("version", Kind.VERSION));
        optionalBody("POST /client/v11/databases/{addon}/upgrade/run", "/client/v11/databases/fuzz-no-such-addon/upgrade/run",
                "{\"version\":\"17\"}", f("version", Kind.VERSION));
        optionalBody("POST /client/v11/databases/{addon}/upgrade/dry_run", "/client/v11/databases/fuzz-no-such-addon/upgrade/dry_run",
                "{\"version\":\"17\"}", f("version", Kind.VERSION));
        call("POST /client/v11/databases/{addon}/upgrade/cancel", "/client/v11/databases/<dbname>/upgrade/cancel");
        get("GET /client/v11/databases/{addon}/upgrade/wait_status", "/client/v11/databases/<dbname>/upgrade/wait_status");
        body("POST /reports", "/reports", "{\"app\":\"<app>\",\"database\":\"DATABASE_URL\"}", f("app", Kind.TOKEN), f("database", Kind.TOKEN));
        get("GET /reports/{id}", "/reports/<report>");

        // Heroku's apps, account and add-on services.
        optionalBody("POST /apps", "/apps", "{\"name\":\"fuzz-made-app\",\"team\":\"<team>\",\"region\":\"local\"}",
                f("name", Kind.TOKEN), f("team", Kind.TOKEN), f("region", Kind.TOKEN));
        optionalBody("POST /teams/apps", "/teams/apps", "{\"name\":\"fuzz-made-app\",\"team\":\"<team>\"}", f("name", Kind.TOKEN),
                f("team", Kind.TOKEN));
        get("GET /apps", "/apps");
        get("GET /users/{user}/apps", "/users/~/apps");
        get("GET /teams/{team}/apps", "/teams/<team>/apps");
        get("GET /apps/{app}", "/apps/<app>");
        body("PATCH /apps/{app}", "/apps/<app>", "{\"name\":\"fuzz-made-app\"}", f("name", Kind.TOKEN));
        call("DELETE /apps/{app}", "/apps/<app>");
        get("GET /account", "/account");
        get("GET /apps/{app}/dynos", "/apps/<app>/dynos");
        get("GET /apps/{app}/collaborators", "/apps/<app>/collaborators");
        get("GET /addon-services", "/addon-services");
        get("GET /addon-services/{service}", "/addon-services/heroku-postgresql");
        get("GET /addon-services/{service}/plans", "/addon-services/heroku-postgresql/plans");
        body("PATCH /apps/{app}/addons/{addon}", "/apps/<app>/addons/<dbname>",
                "{\"plan\":{\"name\":\"heroku-postgresql:standard-0\"},\"name\":\"fuzz-made-addon\"}",
                f("plan", Kind.OBJECT), f("plan.name", Kind.TOKEN), f("name", Kind.TOKEN));

        // heroku logs: a session is made for the app (no body, or {}: the defaults), then read by its token alone.
        optionalBody("POST /apps/{app}/log-sessions", "/apps/<app>/log-sessions", "{\"dyno\":\"postgres\",\"lines\":10,\"tail\":false,\"source\":\"app\"}",
                f("dyno", Kind.TOKEN), f("lines", Kind.INT), f("tail", Kind.BOOL), f("source", Kind.TOKEN));
        get("GET /log-sessions/{token}", "/log-sessions/<logtoken>");
        // A node's read of a server log for another node, by a token (in a header) sealed with the installation's key alone.
        get("GET /internal/server-logs", "/internal/server-logs");
        get("GET /internal/standby-vouch", "/internal/standby-vouch");

        // Logical backups, restores and their schedule.
        call("POST /v1/databases/{database}/logical-backups", "/v1/databases/<db>/logical-backups");
        get("GET /v1/databases/{database}/logical-backups", "/v1/databases/<db>/logical-backups");
        get("GET /v1/databases/{database}/logical-backups/{backup}", "/v1/databases/<db>/logical-backups/<transfer>");
        call("DELETE /v1/databases/{database}/logical-backups/{backup}", "/v1/databases/<db>/logical-backups/<transfer>");
        call("POST /v1/databases/{database}/logical-backups/{backup}/url", "/v1/databases/<db>/logical-backups/<transfer>/url");
        call("POST /v1/databases/{database}/logical-backups/{backup}/cancel", "/v1/databases/<db>/logical-backups/<transfer>/cancel");
        body("POST /v1/databases/{database}/logical-restores", "/v1/databases/<db>/logical-restores",
                "{\"backup\":\"<transfer>\",\"extensions\":[\"hstore\"]}", f("backup", Kind.TOKEN), f("extensions", Kind.LIST));
        body("POST /v1/databases/{database}/logical-restores", "/v1/databases/<db>/logical-restores",
                "{\"url\":\"https://dumps.invalid/fuzz.dump\"}", f("url", Kind.TOKEN));
        // A restore is minutes of pg_restore into the owner's database: the id names none, so its 404 is exercised.
        get("GET /v1/databases/{database}/logical-restores/{restore}", "/v1/databases/<db>/logical-restores/" + NO_SUCH_ID);
        get("GET /v1/databases/{database}/logical-backup-schedule", "/v1/databases/<db>/logical-backup-schedule");
        body("PUT /v1/databases/{database}/logical-backup-schedule", "/v1/databases/<db>/logical-backup-schedule",
                "{\"hour\":4,\"timezone\":\"Europe/Paris\"}", f("hour", Kind.INT), f("timezone", Kind.TOKEN));
        call("DELETE /v1/databases/{database}/logical-backup-schedule", "/v1/databases/<db>/logical-backup-schedule");

        // Pooling, logs and major-version upgrades.
        get("GET /v1/databases/{database}/connection-pooling", "/v1/databases/<db>/connection-pooling");
        ALL.add(new Input("GET /v1/databases/{database}/logs", "/v1/databases/<db>/logs?lines=10", null, false, List.of(), "follow"));
        get("GET /v1/databases/{database}/upgrade", "/v1/databases/<db>/upgrade");
        // prepare: true, so that a spoilt field taken for valid prepares (a catalog row) rather than starts an upgrade.
        optionalBody("POST /v1/databases/{database}/upgrade", "/v1/databases/<db>/upgrade", "{\"version\":17,\"prepare\":true,\"dry_run\":false}",
                f("version", Kind.VERSION), f("prepare", Kind.BOOL), f("dry_run", Kind.BOOL));
        call("DELETE /v1/databases/{database}/upgrade", "/v1/databases/<db>/upgrade");

        // The operator's kit: Prometheus' scrape and the OpenAPI document.
        get("GET /metrics", "/metrics");
        get("GET /openapi", "/openapi");
        get("GET /openapi.yaml", "/openapi.yaml");
        get("GET /openapi/ui", "/openapi/ui");
        get("GET /openapi/ui/{file}", "/openapi/ui/swagger-ui.css");
    }

    private RouteInputs() {
    }

    /** Every input; a GET route is also answered for HEAD, with the same inputs. */
    static List<Input> all() {
        List<Input> all = new ArrayList<>(ALL);
        for (Input input : ALL) {
            if (input.method().equals("GET")) {
                all.add(new Input("HEAD" + input.route().substring(3), input.path(), null, false, List.of(), input.booleanQuery()));
            }
        }
        return all;
    }

    /** The input with every {@code <name>} replaced by {@code values}. */
    static String fill(String text, Map<String, String> values) {
        String filled = text;
        for (Map.Entry<String, String> value : values.entrySet()) {
            filled = filled.replace("<" + value.getKey() + ">", value.getValue());
        }
        return filled;
    }
}
