package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** A cell in the shared JSON: a number column's text goes raw only when it is a JSON number (RFC 8259), whole. */
class RowStreamJsonTest {
    private static final ColumnType NUMERIC = new ColumnType(1700, "numeric");

    private static String value(String text, ColumnType type) {
        StringBuilder out = new StringBuilder();
        RowStream.JsonDocument.value(text, type, null, out);
        return out.toString();
    }

    /** A cell cut to the result's cell limit may be a number cut short: as a string, its magnitude is not claimed. */
    @Test
    void aNumberAsLongAsTheCellLimitIsAString() {
        StringBuilder out = new StringBuilder();
        RowStream.JsonDocument.value("12345", NUMERIC, 5, out);
        RowStream.JsonDocument.value("1234", NUMERIC, 5, out.append(','));
        assertThat(out.toString()).isEqualTo("\"12345\",1234");
    }

    @Test
    void numbersInRfc8259sGrammarAreWrittenRaw() {
        for (String number : new String[] {"0", "-0", "7", "-5", "10", "1.5", "-0.25", "1e5", "1E+5", "2.5e-3", "-1.0E10",
                "123456789012345678901234567890.000001"}) {
            assertThat(RowStream.JsonDocument.isJsonNumber(number)).as(number).isTrue();
            assertThat(value(number, NUMERIC)).isEqualTo(number);
        }
    }

    @Test
    void anyOtherTextOfANumberColumnIsAQuotedEscapedString() throws Exception {
        ObjectMapper json = new ObjectMapper();
        for (String text : new String[] {"NaN", "Infinity", "-Infinity", "1,\"x\":2", "1}", "1]", "1 ", " 1", "01", "-", "+1", "1.",
                ".5", "1e", "1e+", "1.e5", "0x10", "1_000", "١", "1\n", ""}) {
            assertThat(RowStream.JsonDocument.isJsonNumber(text)).as(text).isFalse();
            String written = value(text, NUMERIC);
            JsonNode cell = json.readTree("[" + written + "]").get(0);
            assertThat(cell.isTextual()).as(written).isTrue();
            assertThat(cell.asText()).isEqualTo(text);
        }
        assertThat(value("1,\"x\":2", new ColumnType(23, "int4"))).isEqualTo("\"1,\\\"x\\\":2\"");
    }
}
