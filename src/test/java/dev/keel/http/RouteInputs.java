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
        OBJECT
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
        get("GET /problems/{slug}", "/problems/not-found");
        get("GET /v1/plans", "/v1/plans");
        get("GET /v1/ca.pem", "/v1/ca.pem");
        get("GET /dataclips/{file}", "/dataclips/<slug>.csv");
        get("GET /dataclips/assets/dataclip.css", "/dataclips/assets/dataclip.css");

        // Teams and keys.
        body("POST /v1/teams", "/v1/teams", "{\"name\":\"fuzz-made-team\"}", f("name", Kind.TOKEN));
        get("GET /v1/teams", "/v1/teams");
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
        get("GET /client/v11/apps/{app}/transfers/{id}", "/client/v11/apps/<app>/transfers/<backupnum>");
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
