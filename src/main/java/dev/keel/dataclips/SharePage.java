package dev.keel.dataclips;

import io.micronaut.core.annotation.Nullable;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The HTML of a shared clip: title, when and where the result was computed, a chart when one
 * applies, the first rows as a table, and links to the CSV and JSON. No script; the only asset
 * is Keel's own stylesheet. Every value is escaped.
 */
final class SharePage {
    /** Rows shown in the page's table; the downloads carry all of them. */
    static final int TABLE_ROWS = 1000;
    /** Characters of a cell the table shows (then an ellipsis), and of all its cells together: a page stays small whatever the result holds. */
    static final int CELL_CHARS = 2000;
    static final int TABLE_CHARS = 1 << 20;
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'", Locale.ROOT);

    private SharePage() {
    }

    /** The first rows of a result as the table shows them: each cell cut at {@link #CELL_CHARS}, and no more rows than fit {@link #TABLE_CHARS}. */
    static List<String[]> tableRows(Iterator<List<String[]>> chunks) {
        List<String[]> rows = new ArrayList<>();
        long chars = 0;
        while (chunks.hasNext()) {
            for (String[] row : chunks.next()) {
                if (rows.size() == TABLE_ROWS || chars > TABLE_CHARS) {
                    return rows;
                }
                for (int i = 0; i < row.length; i++) {
                    if (row[i] != null && row[i].length() > CELL_CHARS) {
                        row[i] = row[i].substring(0, CELL_CHARS) + "\u2026";
                    }
                    chars += row[i] == null ? 0 : row[i].length();
                }
                rows.add(row);
            }
        }
        return rows;
    }

    private static String truncation(ClipResult result) {
        return result.truncatedDetail() != null ? result.truncatedDetail() : "The result was cut.";
    }

    /** The page of link {@code slug}; its download links carry no query string (a link's parameter values are the clip's own). */
    static String render(String title, String slug, @Nullable ClipResult result, List<String[]> rows) {
        StringBuilder html = new StringBuilder(64 * 1024);
        html.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<meta name=\"robots\" content=\"noindex\">");
        if (result == null || !result.finished()) {
            html.append("<meta http-equiv=\"refresh\" content=\"5\">");
        }
        html.append("<title>").append(Html.escape(title)).append("</title>")
                .append("<link rel=\"stylesheet\" href=\"/dataclips/assets/dataclip.css\"></head><body><main>")
                .append("<header><h1 id=\"title\">").append(Html.escape(title)).append("</h1>");
        if (result == null || !result.finished()) {
            html.append("<p class=\"meta\" id=\"status\">The result is being computed; this page reloads in a few seconds.</p></header>");
            return html.append("</main></body></html>").toString();
        }
        html.append("<p class=\"meta\" id=\"computed\">Computed <time datetime=\"").append(result.finishedAt()).append("\">")
                .append(WHEN.format(result.finishedAt().atZoneSameInstant(ZoneOffset.UTC))).append("</time>");
        if (result.durationMillis() != null) {
            html.append(" in ").append(result.durationMillis()).append(" ms");
        }
        if (result.ranOn() != null) {
            html.append(" on the ").append(Html.escape(result.ranOn()));
        }
        if (result.succeeded()) {
            html.append(" · ").append(String.format(Locale.ROOT, "%,d", result.rowCount())).append(result.rowCount() == 1 ? " row" : " rows");
        }
        html.append("</p>");
        if (result.succeeded() && result.truncated()) {
            html.append("<p class=\"meta\" id=\"truncated\">").append(Html.escape(truncation(result))).append("</p>");
        }
        html.append("<nav class=\"downloads\"><a id=\"download-csv\" href=\"").append(Html.escape(slug + ".csv"))
                .append("\">Download CSV</a><a id=\"download-json\" href=\"").append(Html.escape(slug + ".json"))
                .append("\">Download JSON</a></nav></header>");
        if (!result.succeeded()) {
            html.append("<section class=\"error\" id=\"error\"><h2>The query failed</h2><p>").append(Html.escape(result.errorMessage()))
                    .append("</p>");
            if (result.errorPosition() != null) {
                html.append("<p>At character ").append(result.errorPosition()).append(" of the dataclip's SQL.</p>");
            }
            return html.append("</section></main></body></html>").toString();
        }
        String chart = Chart.svg(result, rows);
        if (chart != null) {
            html.append("<figure class=\"chart-box\" id=\"chart\">").append(chart).append("</figure>");
        }
        html.append("<div class=\"table-box\"><table id=\"result\"><thead><tr>");
        for (int i = 0; i < result.fields().size(); i++) {
            ColumnType type = result.types().get(i);
            html.append("<th").append(type.numeric() ? " class=\"num\"" : "").append(" title=\"").append(Html.escape(type.name())).append("\">")
                    .append(Html.escape(result.fields().get(i))).append("</th>");
        }
        html.append("</tr></thead><tbody>");
        for (String[] row : rows) {
            html.append("<tr>");
            for (int i = 0; i < row.length; i++) {
                boolean numeric = result.types().get(i).numeric();
                html.append(row[i] == null ? "<td class=\"null\">" : numeric ? "<td class=\"num\">" : "<td>")
                        .append(row[i] == null ? "NULL" : Html.escape(row[i])).append("</td>");
            }
            html.append("</tr>");
        }
        html.append("</tbody></table></div>");
        if (result.rowCount() > rows.size()) {
            html.append("<p class=\"more\" id=\"more\">The table shows the first ").append(String.format(Locale.ROOT, "%,d", rows.size()))
                    .append(" rows of ").append(String.format(Locale.ROOT, "%,d", result.rowCount())).append("; the downloads have them all.</p>");
        }
        return html.append("</main></body></html>").toString();
    }
}
