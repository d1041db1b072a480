package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Footprint;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Dataclips through the API and their shared links, on one database of the shared Keel. */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipsTest {
    private TestKeel keel;
    private Api api;
    private Api anonymous;
    private String database;
    private String url;

    @BeforeAll
    void provision(TestKeel keel) throws Exception {
        this.keel = keel;
        this.api = keel.newTeam("dataclips-" + UUID.randomUUID().toString().substring(0, 8));
        this.anonymous = api.withKey(null);
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        this.database = db.get("name").asText();
        this.url = db.get("url").asText();
        try (Connection c = Pg.connect(url, keel.caFile()); Statement sql = c.createStatement()) {
            sql.execute("create table sales (day date, region text, amount numeric)");
            sql.execute("insert into sales select date '2026-01-01' + g, (array['north','south','east'])[1 + g % 3], g * 1.5"
                    + " from generate_series(0, 29) g");
            sql.execute("create table tickets (id serial primary key, big bigserial, small smallserial)");
            sql.execute("insert into tickets values (-5, -6, -7)");
            sql.execute("insert into tickets default values");
            // The owner's own type named serial, which pgjdbc finds when it looks up the name it gives a serial column.
            sql.execute("create type public.serial as enum ('12', '1,\"x\":2', '=HYPERLINK(\"http://x\",\"y\")')");
        }
    }

    private JsonNode create(String title, String sql, String extra) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":" + Json.quote(title) + ",\"database\":\"" + database
                + "\",\"sql\":" + Json.quote(sql) + extra + "}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.json();
    }

    @Test
    void aClipIsSavedRunVersionedRefreshedAndDeleted() {
        JsonNode clip = create("Revenue", "select region, sum(amount) as total from sales group by region order by region", "");
        String id = clip.get("id").asText();
        JsonNode result = clip.get("result");
        assertThat(result.get("state").asText()).isEqualTo("succeeded");
        assertThat(result.get("row_count").asInt()).isEqualTo(3);
        assertThat(result.get("fields").toString()).isEqualTo("[\"region\",\"total\"]");
        assertThat(result.get("types").toString()).isEqualTo("[\"text\",\"numeric\"]");
        assertThat(result.get("ran_on").get("role").asText()).isEqualTo("primary");
        assertThat(result.get("ran_on").get("database_name").asText()).isEqualTo(database);
        assertThat(result.get("duration_ms").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(clip.get("version").asInt()).isEqualTo(1);

        // A title change is no new version; an SQL change is, and runs.
        Api.Response renamed = api.send(api.request("/v1/dataclips/" + id).header("Content-Type", "application/json")
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString("{\"title\":\"Revenue by region\"}")));
        assertThat(renamed.status()).as(renamed.toString()).isEqualTo(200);
        assertThat(renamed.json().get("version").asInt()).isEqualTo(1);
        Api.Response edited = api.send(api.request("/v1/dataclips/" + id).header("Content-Type", "application/json")
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"sql\":\"select region, count(*) as sales from sales where day >= {{since}} group by region order by region\","
                                + "\"parameters\":{\"since\":\"2026-01-21\"}}")));
        assertThat(edited.status()).as(edited.toString()).isEqualTo(200);
        assertThat(edited.json().get("version").asInt()).isEqualTo(2);
        assertThat(edited.json().get("title").asText()).isEqualTo("Revenue by region");
        assertThat(edited.json().get("result").get("row_count").asInt()).isEqualTo(3);

        // Refresh with a parameter from the query string: a bind, typed by the server.
        Api.Response refreshed = api.post("/v1/dataclips/" + id + "/refresh?since=2026-01-29", "");
        assertThat(refreshed.status()).as(refreshed.toString()).isEqualTo(200);
        assertThat(refreshed.json().get("parameters").get("since").asText()).isEqualTo("2026-01-29");
        assertThat(refreshed.json().get("row_count").asInt()).isEqualTo(2);
        Api.Response injected = api.post("/v1/dataclips/" + id + "/refresh?since=" + java.net.URLEncoder.encode(
                "2026-01-01' or 1=1 --", java.nio.charset.StandardCharsets.UTF_8), "");
        assertThat(injected.json().get("state").asText()).isEqualTo("failed");
        assertThat(injected.json().get("error").get("message").asText()).isEqualTo("invalid input syntax for type date: \"2026-01-01' or 1=1 --\"");
        assertThat(injected.json().get("error").get("sqlstate").asText()).isEqualTo("22007");

        JsonNode versions = api.get("/v1/dataclips/" + id + "/versions").json();
        assertThat(versions).hasSize(2);
        assertThat(versions.get(0).get("version").asInt()).isEqualTo(2);
        assertThat(versions.get(0).get("results")).hasSize(3);
        assertThat(versions.get(0).get("results").get(0).get("state").asText()).isEqualTo("failed");
        assertThat(versions.get(1).get("sql").asText()).startsWith("select region, sum(amount)");
        assertThat(versions.get(1).get("results")).hasSize(1);
        assertThat(versions.get(1).get("results").get(0).get("started_at").asText()).isNotBlank();
        assertThat(versions.get(1).get("results").get(0).get("finished_at").asText()).isNotBlank();

        // Another team sees nothing of it.
        Api other = keel.newTeam("other-" + UUID.randomUUID().toString().substring(0, 8));
        assertThat(other.get("/v1/dataclips/" + id).status()).isEqualTo(404);
        assertThat(other.post("/v1/dataclips/" + id + "/share", "").status()).isEqualTo(404);
        Api.Response foreignDatabase = other.post("/v1/dataclips", "{\"title\":\"x\",\"database\":\"" + database + "\",\"sql\":\"select 1\"}");
        assertThat(foreignDatabase.status()).isEqualTo(404);
        assertThat(api.get("/v1/dataclips").json().toString()).contains(id);

        assertThat(api.delete("/v1/dataclips/" + id).status()).isEqualTo(204);
        assertThat(api.get("/v1/dataclips/" + id).status()).isEqualTo(404);
    }

    @Test
    void badInputIsAProblemThatSaysWhatToDo() {
        Api.Response missing = api.post("/v1/dataclips", "{\"title\":\"x\",\"database\":\"" + database + "\",\"sql\":\"select {{day}}\"}");
        assertThat(missing.status()).isEqualTo(422);
        assertThat(missing.contentType()).isEqualTo("application/problem+json");
        assertThat(missing.field("type")).isEqualTo("/problems/invalid-parameter");
        assertThat(missing.field("detail")).isEqualTo("The dataclip's SQL uses {{day}} but no value was given: add ?day=<value> to the URL,"
                + " or give the dataclip a default in \"parameters\".");
        Api.Response noTitle = api.post("/v1/dataclips", "{\"database\":\"" + database + "\",\"sql\":\"select 1\"}");
        assertThat(noTitle.status()).isEqualTo(422);
        assertThat(noTitle.field("detail")).startsWith("Send \"title\"");
        Api.Response timeout = api.post("/v1/dataclips", "{\"title\":\"x\",\"database\":\"" + database
                + "\",\"sql\":\"select 1\",\"timeout_seconds\":100000}");
        assertThat(timeout.field("detail")).isEqualTo("\"timeout_seconds\" must be between 1 and 600 (keel.dataclips.max-timeout); it was 100000.");
        Api.Response unreadable = api.post("/v1/dataclips", "{\"title\":");
        assertThat(unreadable.status()).isEqualTo(400);
        assertThat(unreadable.text()).doesNotContain("Exception").doesNotContain("at io.micronaut");

        JsonNode broken = create("Broken", "select region,\n  nosuch from sales", "");
        JsonNode error = broken.get("result").get("error");
        assertThat(broken.get("result").get("state").asText()).isEqualTo("failed");
        assertThat(error.get("message").asText()).isEqualTo("column \"nosuch\" does not exist");
        assertThat(error.get("position").asInt()).isEqualTo(18);
        assertThat(error.get("sqlstate").asText()).isEqualTo("42703");
        String url = api.post("/v1/dataclips/" + broken.get("id").asText() + "/share", "").field("url");
        Api.Response json = anonymous.get(path(url) + ".json");
        assertThat(json.status()).isEqualTo(422);
        assertThat(json.field("detail")).isEqualTo("The dataclip's query failed: column \"nosuch\" does not exist");
        assertThat(json.json().get("position").asInt()).isEqualTo(18);
        assertThat(anonymous.get(path(url)).text()).contains("column &quot;nosuch&quot; does not exist").contains("At character 18");
    }

    @Test
    void aSharedClipServesHtmlCsvAndJsonWithoutAKeyUntilRevoked() {
        JsonNode clip = create("Odd <values>", "select 1 as id, 'a,b' as comma, 'say \"hi\"' as quote, E'two\\nlines' as nl,"
                + " null::text as nothing, 1.5::numeric as n, true as b, date '2026-01-02' as d", "");
        String id = clip.get("id").asText();
        assertThat(api.get("/v1/dataclips/" + id + "/share").json().get("shared").asBoolean()).isFalse();
        Api.Response shared = api.post("/v1/dataclips/" + id + "/share", "");
        assertThat(shared.status()).isEqualTo(201);
        String url = shared.field("url");
        String slug = url.substring(url.lastIndexOf('/') + 1);
        assertThat(url).isEqualTo(api.baseUrl() + "/dataclips/" + slug);
        assertThat(slug).matches("[A-Za-z0-9_-]{32}"); // 24 random bytes: 192 bits

        Api.Response csv = anonymous.get(path(url) + ".csv");
        assertThat(csv.status()).isEqualTo(200);
        assertThat(csv.contentType()).isEqualTo("text/csv; charset=utf-8");
        assertThat(csv.text()).isEqualTo("id,comma,quote,nl,nothing,n,b,d\r\n1,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,1.5,t,2026-01-02\r\n");
        Api.Response json = anonymous.get(path(url) + ".json");
        assertThat(json.status()).isEqualTo(200);
        assertThat(json.contentType()).startsWith("application/json");
        assertThat(json.field("title")).isEqualTo("Odd <values>");
        assertThat(json.json().get("fields").toString()).isEqualTo("[\"id\",\"comma\",\"quote\",\"nl\",\"nothing\",\"n\",\"b\",\"d\"]");
        assertThat(json.json().get("types").toString()).isEqualTo("[23,25,25,25,25,1700,16,1082]");
        assertThat(json.json().get("values").toString())
                .isEqualTo("[[1,\"a,b\",\"say \\\"hi\\\"\",\"two\\nlines\",null,1.5,true,\"2026-01-02\"]]");
        assertThat(json.field("started_at")).isNotBlank();
        assertThat(json.field("finished_at")).isNotBlank();
        HeadersCheck.assertCors(anonymous, path(url) + ".csv");

        String html = anonymous.get(path(url)).text();
        assertThat(html).contains("<h1 id=\"title\">Odd &lt;values&gt;</h1>").contains("href=\"" + slug + ".csv\"")
                .doesNotContain("<values>").doesNotContain("http://").doesNotContain("https://");

        JsonNode status = api.get("/v1/dataclips/" + id + "/share").json();
        assertThat(status.get("shared").asBoolean()).isTrue();
        assertThat(status.get("access_count").asInt()).isEqualTo(4);
        assertThat(status.get("last_accessed_at").asText()).isNotBlank();

        Api.Response revoked = api.delete("/v1/dataclips/" + id + "/share");
        assertThat(revoked.json().get("shared").asBoolean()).isFalse();
        for (String suffix : new String[] {"", ".csv", ".json"}) {
            Api.Response gone = anonymous.get(path(url) + suffix);
            assertThat(gone.status()).isEqualTo(404);
            assertThat(gone.contentType()).isEqualTo("application/problem+json");
        }
        String again = api.post("/v1/dataclips/" + id + "/share", "").field("url");
        assertThat(again).isNotEqualTo(url);
        assertThat(anonymous.get(path(again) + ".csv").status()).isEqualTo(200);
    }

    @Test
    void aCsvNeutralisesCellsThatBeginLikeAFormulaAndKeepsNumbersExact() {
        JsonNode clip = create("Formulas", "select '=HYPERLINK(\"http://x\",\"y\")' as formula, '+1' as plus, '-1'::varchar as minus,"
                + " '@SUM(A1)' as at, E'\\t=1' as tab, E'\\r=1' as cr, 'plain' as plain, -5 as n, -1.5::numeric as num,"
                + " '-infinity'::date as d, '-infinity'::timestamptz as ts, interval '-1 day' as iv, '-1'::jsonb as j, 2 as \"=2\","
                + " 'x;=1+1' as \"y;=1+1\"", "");
        String url = api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url");
        // A cell or name holding ';' is quoted: Excel where ';' separates a list would make what follows it a cell, a formula.
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo("formula,plus,minus,at,tab,cr,plain,n,num,d,ts,iv,j,'=2,\"y;=1+1\"\r\n"
                + "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",'+1,'-1,'@SUM(A1),\"'\t=1\",\"'\r=1\",plain,-5,-1.5,'-infinity,'-infinity,'-1 days,-1,2,"
                + "\"x;=1+1\"\r\n");
        // The JSON is no spreadsheet's: its values stay as they are.
        assertThat(anonymous.get(path(url) + ".json").json().get("values").toString()).isEqualTo("[[\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\","
                + "\"+1\",\"-1\",\"@SUM(A1)\",\"\\t=1\",\"\\r=1\",\"plain\",-5,-1.5,\"-infinity\",\"-infinity\",\"-1 days\",\"-1\",2,\"x;=1+1\"]]");
    }

    /**
     * pgjdbc names an integer column whose default is a sequence's next value serial, bigserial or smallserial, types that
     * Postgres does not have: such a column is its integer type, a JSON number, and exact in the CSV.
     */
    @Test
    void serialColumnsAreTheirIntegerTypes() {
        JsonNode clip = create("Serials", "select id, big, small from tickets order by id", "");
        assertThat(clip.get("result").get("types").toString()).isEqualTo("[\"int4\",\"int8\",\"int2\"]");
        String url = api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url");
        JsonNode json = anonymous.get(path(url) + ".json").json();
        assertThat(json.get("types").toString()).isEqualTo("[23,20,21]");
        assertThat(json.get("type_names").toString()).isEqualTo("[\"int4\",\"int8\",\"int2\"]");
        assertThat(json.get("values").toString()).isEqualTo("[[-5,-6,-7],[1,1,1]]");
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo("id,big,small\r\n-5,-6,-7\r\n1,1,1\r\n");
    }

    /**
     * A type the owner named serial, after a serial column in the same result (pgjdbc, having looked the name serial up for
     * that column and found the owner's type, then calls the owner's type serial too): its values are text, quoted in the
     * JSON and neutralised in the CSV, never read as integers; number columns' NaN and infinities are strings.
     */
    @Test
    void anOwnersTypeNamedSerialIsTextNotAnInteger() {
        JsonNode clip = create("Owner's serial", "select t.id, v.e, 'NaN'::numeric as nan, 'Infinity'::float8 as inf,"
                + " '-Infinity'::numeric as ninf from tickets t, (values (1, '12'::serial), (2, '1,\"x\":2'),"
                + " (3, '=HYPERLINK(\"http://x\",\"y\")')) v(n, e) where t.id = 1 order by v.n", "");
        assertThat(clip.get("result").get("state").asText()).isEqualTo("succeeded");
        assertThat(clip.get("result").get("types").toString()).isEqualTo("[\"int4\",\"serial\",\"numeric\",\"float8\",\"numeric\"]");
        String url = api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url");
        JsonNode json = anonymous.get(path(url) + ".json").json();
        assertThat(json.get("type_names").toString()).isEqualTo("[\"int4\",\"serial\",\"numeric\",\"float8\",\"numeric\"]");
        assertThat(json.get("types").get(1).asInt()).isGreaterThanOrEqualTo(16384); // the owner's type's OID, not an integer's
        assertThat(json.get("values").toString()).isEqualTo("[[1,\"12\",\"NaN\",\"Infinity\",\"-Infinity\"],"
                + "[1,\"1,\\\"x\\\":2\",\"NaN\",\"Infinity\",\"-Infinity\"],"
                + "[1,\"=HYPERLINK(\\\"http://x\\\",\\\"y\\\")\",\"NaN\",\"Infinity\",\"-Infinity\"]]");
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo("id,e,nan,inf,ninf\r\n1,12,NaN,Infinity,'-Infinity\r\n"
                + "1,\"1,\"\"x\"\":2\",NaN,Infinity,'-Infinity\r\n1,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",NaN,Infinity,'-Infinity\r\n");
    }

    /**
     * A link's holder has a browser, not the clip: the link runs with the values its owner saved, and a holder who sets
     * one is told no (a clip shared for one customer would otherwise show every customer's rows).
     */
    @Test
    void aLinkRunsWithTheSavedParameterValuesAndRefusesTheHoldersOwn() {
        JsonNode clip = create("Since", "select day, amount from sales where day >= {{since}} and region = {{region}} order by day",
                ",\"parameters\":{\"since\":\"2026-01-25\",\"region\":\"north\"}");
        String id = clip.get("id").asText();
        String url = api.post("/v1/dataclips/" + id + "/share", "").field("url");
        String north = "day,amount\r\n2026-01-25,36.0\r\n2026-01-28,40.5\r\n";
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo(north);
        for (String query : new String[] {".csv?region=south", ".json?since=2026-01-01&region=south", "?Region=south"}) {
            Api.Response refused = anonymous.get(path(url) + query);
            assertThat(refused.status()).as(query).isEqualTo(422);
            assertThat(refused.contentType()).isEqualTo("application/problem+json");
            assertThat(refused.field("type")).isEqualTo("/problems/invalid-parameter");
            assertThat(refused.field("parameter")).isEqualTo(query.contains("since") ? "since" : "region");
        }
        assertThat(anonymous.get(path(url) + ".csv?region=south").field("detail")).isEqualTo("A shared link runs its dataclip with the"
                + " parameter values its owner saved; it cannot set {{region}}. Open the link without ?region=..., or ask the dataclip's"
                + " owner for a link to a dataclip saved with the value you need.");
        // Names that are no parameter of the clip (a link tracker's) change nothing, and the page's downloads carry no query.
        assertThat(anonymous.get(path(url) + ".csv?utm_source=mail").text()).isEqualTo(north);
        String slug = url.substring(url.lastIndexOf('/') + 1);
        assertThat(anonymous.get(path(url) + "?utm_source=mail").text()).contains("href=\"" + slug + ".csv\"")
                .contains("href=\"" + slug + ".json\"");
        // The owner's saved values are what the link shows, and they are binds: a value never becomes SQL.
        assertThat(patchParameters(id, "{\"since\":\"2026-01-25\",\"region\":\"south\"}").status()).isEqualTo(200);
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo("day,amount\r\n2026-01-26,37.5\r\n2026-01-29,42.0\r\n");
        assertThat(patchParameters(id, "{\"since\":\"2026-01-25\",\"region\":" + Json.quote("x' or 'a'='a") + "}").status())
                .isEqualTo(200);
        assertThat(anonymous.get(path(url) + ".csv").text()).isEqualTo("day,amount\r\n");
    }

    /**
     * Saving a clip requires a value for each of its parameters, so only a clip saved otherwise (here by hand in the catalog)
     * lacks one: its link says whose it is to fix, not "add ?name=", which the link refuses.
     */
    @Test
    void aLinkWhoseClipHasNoSavedValueSaysToAskTheOwner() throws Exception {
        JsonNode clip = create("Unsaved", "select {{n}}::int as n", ",\"parameters\":{\"n\":\"1\"}");
        String id = clip.get("id").asText();
        String url = api.post("/v1/dataclips/" + id + "/share", "").field("url");
        try {
            try (Connection catalog = Footprint.catalog(keel.dataDir());
                 PreparedStatement unsave = catalog.prepareStatement("update dataclips set parameters = '{}' where id = ?")) {
                unsave.setObject(1, UUID.fromString(id));
                assertThat(unsave.executeUpdate()).isEqualTo(1);
            }
            Api.Response refused = anonymous.get(path(url) + ".csv");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(422);
            assertThat(refused.contentType()).isEqualTo("application/problem+json");
            assertThat(refused.field("type")).isEqualTo("/problems/invalid-parameter");
            assertThat(refused.field("parameter")).isEqualTo("n");
            assertThat(refused.field("detail")).isEqualTo("The dataclip's SQL uses {{n}} but its owner saved no value for it, and a"
                    + " shared link runs with saved values only: ask the dataclip's owner to save a value for {{n}}.");
        } finally {
            // Listing the team's clips shows each one's newest result for its saved values, which this one lacks.
            assertThat(api.delete("/v1/dataclips/" + id).status()).isEqualTo(204);
        }
    }

    private Api.Response patchParameters(String id, String parameters) {
        return api.send(api.request("/v1/dataclips/" + id).header("Content-Type", "application/json")
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString("{\"parameters\":" + parameters + "}")));
    }

    @Test
    void aStoredResultIsServedForAMinuteThenRunAgainOnAccess() throws Exception {
        JsonNode clip = create("Now", "select now() as at, count(*) as n from sales", "");
        String id = clip.get("id").asText();
        String url = api.post("/v1/dataclips/" + id + "/share", "").field("url");
        String first = anonymous.get(path(url) + ".json").field("started_at");
        assertThat(java.time.OffsetDateTime.parse(first).toInstant())
                .isEqualTo(java.time.OffsetDateTime.parse(clip.get("result").get("started_at").asText()).toInstant());
        assertThat(anonymous.get(path(url) + ".json").field("started_at")).isEqualTo(first);
        // Two minutes pass for this clip's results.
        try (Connection catalog = Footprint.catalog(keel.dataDir());
             PreparedStatement age = catalog.prepareStatement("update dataclip_results set started_at = started_at - interval '2 minutes',"
                     + " finished_at = finished_at - interval '2 minutes' where dataclip_id = ?")) {
            age.setObject(1, UUID.fromString(id));
            assertThat(age.executeUpdate()).isEqualTo(1);
        }
        String second = anonymous.get(path(url) + ".json").field("started_at");
        assertThat(second).isNotEqualTo(first);
        assertThat(anonymous.get(path(url) + ".csv").status()).isEqualTo(200);
        assertThat(anonymous.get(path(url) + ".json").field("started_at")).isEqualTo(second);
        assertThat(api.get("/v1/dataclips/" + id + "/versions").json().get(0).get("results")).hasSize(2);
    }

    /**
     * Whatever starts them (the owner's refreshes with other values, a new version, other nodes), once its clip ran ten
     * times within a minute a link serves the result it has stored, however old, instead of running the clip again.
     */
    @Test
    void aLinkServesWhatIsStoredOnceItsClipRanTenTimesAMinute() throws Exception {
        JsonNode clip = create("Echo", "select {{n}}::int as n", ",\"parameters\":{\"n\":\"0\"}");
        String id = clip.get("id").asText();
        String url = api.post("/v1/dataclips/" + id + "/share", "").field("url");
        for (int n = 1; n <= 10; n++) {
            assertThat(api.post("/v1/dataclips/" + id + "/refresh?n=" + n, "").status()).isEqualTo(200);
        }
        // The link's own result (n=0) two minutes old: stale, and out of the minute's count, which the ten refreshes fill.
        ageResults(id, "parameters = '{\"n\":\"0\"}'");
        String stale = anonymous.get(path(url) + ".json").field("started_at");
        assertThat(java.time.OffsetDateTime.parse(stale).toInstant())
                .isBefore(java.time.OffsetDateTime.parse(clip.get("result").get("started_at").asText()).toInstant().minusSeconds(100));
        assertThat(api.get("/v1/dataclips/" + id + "/versions").json().get(0).get("results")).hasSize(11);
        // The minute over, the link runs its clip again.
        ageResults(id, "true");
        assertThat(anonymous.get(path(url) + ".json").field("started_at")).isNotEqualTo(stale);
        assertThat(api.get("/v1/dataclips/" + id + "/versions").json().get(0).get("results")).hasSize(12);
    }

    /** Moves the clip's results matching {@code where} two minutes back in time. */
    private void ageResults(String id, String where) throws Exception {
        try (Connection catalog = Footprint.catalog(keel.dataDir());
             PreparedStatement age = catalog.prepareStatement("update dataclip_results set started_at = started_at - interval '2 minutes',"
                     + " finished_at = finished_at - interval '2 minutes' where dataclip_id = ? and " + where)) {
            age.setObject(1, UUID.fromString(id));
            assertThat(age.executeUpdate()).isPositive();
        }
    }

    @Test
    void aLongResultIsCutAtTheRowLimitAndStreamedWhole() {
        JsonNode clip = create("Many", "select g, md5(g::text) from generate_series(1, 150000) g", "");
        assertThat(clip.get("result").get("row_count").asInt()).isEqualTo(100_000);
        assertThat(clip.get("result").get("truncated").asBoolean()).isTrue();
        String url = api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url");
        String csv = anonymous.get(path(url) + ".csv").text();
        String[] lines = csv.split("\r\n");
        assertThat(lines).hasSize(100_001);
        assertThat(lines[100_000]).isEqualTo("100000,14ee22eaba297944c96afdbe5b16c65b");
        assertThat(anonymous.get(path(url)).text()).contains("cut at the row limit")
                .contains("The table shows the first 1,000 rows of 100,000");
    }

    /**
     * A {@code bytea} cell's text is what {@code bytea_output} makes it: an owner who sets it to {@code escape} on the
     * database would have {@code =HYPERLINK(...)} stored as bytes come out as that text. The clip's session pins
     * {@code hex}; and a clip that sets {@code escape} itself gets, in the CSV, a cell that begins like a formula
     * neutralised whatever its column's type.
     */
    @Test
    void aByteaCellIsHexWhateverTheOwnerSetsAndOneThatBeginsLikeAFormulaIsNeutralisedInTheCsv() throws Exception {
        String bytes = "convert_to('=HYPERLINK(\"http://evil\",\"x\")', 'UTF8')";
        try (Connection c = Pg.connect(url, keel.caFile()); Statement sql = c.createStatement()) {
            String name = Pg.scalar(c, "select quote_ident(current_database())");
            sql.execute("alter database " + name + " set bytea_output = 'escape'");
            try {
                JsonNode pinned = create("Bytes", "select " + bytes + " as b", "");
                String shared = api.post("/v1/dataclips/" + pinned.get("id").asText() + "/share", "").field("url");
                assertThat(anonymous.get(path(shared) + ".csv").text())
                        .isEqualTo("b\r\n\\x3d48595045524c494e4b2822687474703a2f2f6576696c222c22782229\r\n");
                JsonNode escaped = create("Escaped bytes", "select pg_catalog.set_config('bytea_output', 'escape', true) as s, "
                        + bytes + " as b", "");
                assertThat(escaped.get("result").get("state").asText()).isEqualTo("succeeded");
                shared = api.post("/v1/dataclips/" + escaped.get("id").asText() + "/share", "").field("url");
                assertThat(anonymous.get(path(shared) + ".csv").text())
                        .isEqualTo("s,b\r\nescape,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\r\n");
            } finally {
                sql.execute("alter database " + name + " reset bytea_output");
            }
        }
    }

    static String path(String url) {
        return java.net.URI.create(url).getRawPath();
    }
}
