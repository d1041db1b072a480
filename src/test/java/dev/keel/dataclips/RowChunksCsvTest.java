package dev.keel.dataclips;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** A stored chunk as CSV: RFC 4180 quoting, and cells that begin like a formula neutralised (OWASP's CSV injection advice). */
class RowChunksCsvTest {
    private static String csv(boolean[] freeText, String[]... rows) {
        RowChunks.Writer writer = new RowChunks.Writer(1000, 1 << 20);
        for (String[] row : rows) {
            byte[][] cells = new byte[row.length][];
            for (int i = 0; i < row.length; i++) {
                cells[i] = row[i] == null ? null : row[i].getBytes(StandardCharsets.UTF_8);
            }
            writer.add(cells);
        }
        RowChunks.Bytes out = new RowChunks.Bytes(16);
        RowChunks.csv(RowChunks.decompress(writer.finish()), freeText, out);
        return new String(Arrays.copyOf(out.array(), out.size()), StandardCharsets.UTF_8);
    }

    @Test
    void freeTextThatBeginsLikeAFormulaGetsALeadingQuote() {
        boolean[] text = {true};
        assertThat(csv(text, new String[] {"=1+1"}, new String[] {"+1"}, new String[] {"-1"}, new String[] {"@SUM(A1)"},
                new String[] {"\t=1"}, new String[] {"a=1"}, new String[] {"é=1"}, new String[] {""}, new String[] {null}))
                .isEqualTo("'=1+1\r\n'+1\r\n'-1\r\n'@SUM(A1)\r\n\"'\t=1\"\r\na=1\r\né=1\r\n\r\n\r\n");
    }

    @Test
    void aNeutralisedCellThatNeedsQuotesHasTheMarkInsideThem() {
        assertThat(csv(new boolean[] {true, true}, new String[] {"=HYPERLINK(\"http://x\",\"y\")", "\r=1"}))
                .isEqualTo("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"'\r=1\"\r\n");
    }

    /**
     * Excel where the list separator is {@code ;} splits an unquoted {@code x;=HYPERLINK(...)} into two cells, the second a
     * formula; a tab-separated import does the same at a tab. Inside quotes nothing is split, so such a cell is quoted.
     */
    @Test
    void aCellHoldingASemicolonOrATabIsQuotedSoThatNoSpreadsheetSplitsIt() {
        assertThat(csv(new boolean[] {true, true, false}, new String[] {"x;=HYPERLINK(1)", "x\t@SUM(A1)", "{1;2}"}))
                .isEqualTo("\"x;=HYPERLINK(1)\",\"x\t@SUM(A1)\",\"{1;2}\"\r\n");
    }

    @Test
    void aNumberInAnotherColumnStaysExactAndAnyOtherFormulaLikeCellIsNeutralised() {
        assertThat(csv(new boolean[] {false, false, false, false, false, true}, new String[] {"-5", "-1.5e-3", "-infinity", "-1 days",
                "=HYPERLINK(1)", "-5"}))
                .isEqualTo("-5,-1.5e-3,'-infinity,'-1 days,'=HYPERLINK(1),'-5\r\n");
        assertThat(csv(new boolean[] {false, false, false, false}, new String[] {"-", "-1.", "-.5", "-1e"}))
                .isEqualTo("'-,'-1.,'-.5,'-1e\r\n");
    }
}
