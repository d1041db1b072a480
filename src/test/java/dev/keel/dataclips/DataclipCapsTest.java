package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The caps a result says it was cut by, on the shared Keel's defaults (1 MB per cell, a row's cells
 * 1 MB together): cells cut on the server at a character boundary, values otherwise exactly as the
 * clip alone returns them, and the reason in the API, the JSON download and the share page; rows
 * kept up to the moment the time limit ends a result that was arriving.
 */
@ExtendWith(SharedKeel.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DataclipCapsTest {
    private static final int MB = 1 << 20;

    private Api api;
    private String database;

    @BeforeAll
    void provision(TestKeel keel) {
        api = keel.newTeam("caps-" + UUID.randomUUID().toString().substring(0, 8));
        database = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
    }

    @AfterAll
    void deprovision() {
        api.deprovision(database);
    }

    private JsonNode create(String sql, int timeoutSeconds) {
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"caps\",\"database\":\"" + database + "\",\"sql\":"
                + Json.quote(sql) + ",\"timeout_seconds\":" + timeoutSeconds + "}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        return created.json();
    }

    private String share(JsonNode clip) {
        return URI.create(api.post("/v1/dataclips/" + clip.get("id").asText() + "/share", "").field("url")).getRawPath();
    }

    @Test
    void aCellLongerThanTheCapIsCutOnTheServerAndTheResultSaysSo() {
        JsonNode clip = create("select repeat('x', 5000000) as big, 42 as n", 60);
        JsonNode result = clip.get("result");
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("succeeded");
        assertThat(result.get("truncated").asBoolean()).isTrue();
        assertThat(result.get("truncated_reason").asText()).isEqualTo("cell_bytes");
        assertThat(result.get("truncated_detail").asText())
                .isEqualTo("Every row is here, but cells longer than 1 MB were cut to that length (KEEL_DATACLIPS_CELL_BYTES).");
        String path = share(clip);
        Api anonymous = api.withKey(null);
        assertThat(anonymous.get(path + ".csv").text()).isEqualTo("big,n\r\n" + "x".repeat(MB) + ",42\r\n");
        JsonNode json = anonymous.get(path + ".json").json();
        assertThat(json.get("truncated_reason").asText()).isEqualTo("cell_bytes");
        assertThat(json.get("truncated_detail").asText()).isEqualTo(result.get("truncated_detail").asText());
        assertThat(json.get("values").get(0).get(0).asText()).hasSize(MB);
        String page = anonymous.get(path).text();
        assertThat(page).contains("<p class=\"meta\" id=\"truncated\">Every row is here, but cells longer than 1 MB were cut")
                .contains("<td>" + "x".repeat(SharePage.CELL_CHARS) + "\u2026</td>").doesNotContain("x".repeat(SharePage.CELL_CHARS + 1));
    }

    @Test
    void cutCellsEndOnACharacterAndEveryOtherValueIsAsPostgresWritesIt() {
        JsonNode clip = create("select repeat('é', 1000000) as accents, 'a'::char(3) as padded, null::numeric as nothing,"
                + " row(null, null) as pair, '10.0.0.1'::inet as host, true as yes, array[1, null] as list, 1.50::numeric as n", 60);
        JsonNode result = clip.get("result");
        assertThat(result.get("truncated_reason").asText()).as(result.toString()).isEqualTo("cell_bytes");
        // Six cells are cut on the server: a row's 1 MB shared among them.
        int each = MB / 6;
        assertThat(result.get("truncated_detail").asText()).isEqualTo("Every row is here, but cells longer than " + String.format(Locale.ROOT, "%,d", each)
                + " bytes were cut to that length (a row's cells together keep at most 1 MB, " + String.format(Locale.ROOT, "%,d", each)
                + " bytes each over its columns; KEEL_DATACLIPS_CELL_BYTES is 1 MB).");
        Api.Response csv = api.withKey(null).get(share(clip) + ".csv");
        String[] lines = csv.text().split("\r\n");
        assertThat(lines[0]).isEqualTo("accents,padded,nothing,pair,host,yes,list,n");
        String accents = lines[1].substring(0, lines[1].indexOf(','));
        assertThat(accents.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(each).isGreaterThan(each / 4 - 4);
        assertThat(accents).matches("é+");
        assertThat(lines[1].substring(accents.length())).isEqualTo(",a  ,,\"(,)\",10.0.0.1,t,\"{1,NULL}\",1.50");
    }

    /**
     * A numeric of 100,000 digits in a row of 20 cut columns is cut to 52,428 (1 MB over 20): still a number in RFC 8259's
     * grammar, a thousand-odd orders of magnitude smaller. The JSON writes it as a string; an uncut number stays a number.
     */
    @Test
    void aNumberCutToTheCellLimitIsAStringInTheJson() {
        StringBuilder sql = new StringBuilder("select repeat('9', 100000)::numeric as n, 42::numeric as small");
        for (int i = 0; i < 18; i++) {
            sql.append(", 'x'::text as c").append(i);
        }
        JsonNode clip = create(sql.toString(), 60);
        JsonNode result = clip.get("result");
        assertThat(result.get("truncated_reason").asText()).as(result.toString()).isEqualTo("cell_bytes");
        JsonNode values = api.withKey(null).get(share(clip) + ".json").json().get("values").get(0);
        assertThat(values.get(0).isTextual()).as("the cut number is a string").isTrue();
        assertThat(values.get(0).asText()).isEqualTo("9".repeat(MB / 20));
        assertThat(values.get(1).isNumber()).isTrue();
        assertThat(values.get(1).asInt()).isEqualTo(42);
    }

    @Test
    void aResultStillArrivingWhenItsTimeLimitEndsKeepsItsRowsAndSaysSo() {
        JsonNode clip = create("select g from generate_series(1, 1000000) g, lateral (select pg_sleep(case when g > 5000 then 0.002 else 0 end)) s", 3);
        JsonNode result = clip.get("result");
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("succeeded");
        assertThat(result.get("truncated_reason").asText()).isEqualTo("time_limit");
        assertThat(result.get("row_count").asLong()).isBetween(2000L, 100_000L); // at least the first fetch of 2,000 fast rows
        assertThat(result.get("truncated_detail").asText()).isEqualTo("The result was cut after " + String.format(Locale.ROOT, "%,d",
                result.get("row_count").asLong()) + " rows: the dataclip's time limit of 3 s ran out while its rows arrived.");
    }

    @Test
    void aTextThatTheDriverSendsAsOneStatementButIsTwoIsRefusedByTheServer() {
        // Keel's reading and pgjdbc's take "$$" after a no-break space for a dollar quote; the server, for part of an identifier.
        JsonNode result = create("select 1 as a\u00a0$$; select 2 as b\u00a0$$", 5).get("result");
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("failed");
        assertThat(result.get("error").get("sqlstate").asText()).isEqualTo("42601");
        assertThat(result.get("error").get("message").asText()).isEqualTo("cannot insert multiple commands into a prepared statement");
    }
}
