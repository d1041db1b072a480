package dev.keel.dataclips;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.server.types.files.StreamedFile;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;

import java.io.InputStream;
import java.util.Iterator;
import java.util.List;

/**
 * The public side of a shared clip, without an API key: {@code /dataclips/{slug}} (HTML),
 * {@code .csv} and {@code .json} (streamed from the stored rows, CORS open to any origin), and the
 * page's stylesheet. A failed result is a problem for the downloads, a message on the page.
 */
@Controller("/dataclips")
@ExecuteOn(TaskExecutors.BLOCKING)
final class SharedDataclipsController {
    private static final MediaType CSV = MediaType.of("text/csv; charset=utf-8");
    private static final MediaType JSON = MediaType.of("application/json; charset=utf-8");

    private final Shares shares;
    private final ResultRepository results;

    SharedDataclipsController(Shares shares, ResultRepository results) {
        this.shares = shares;
        this.results = results;
    }

    @Get("/{file}")
    @ApiResponse(responseCode = "200", content = {
            @Content(mediaType = MediaType.TEXT_HTML, schema = @Schema(type = "string", description = "{slug}: the share page")),
            @Content(mediaType = "text/csv", schema = @Schema(type = "string", description = "{slug}.csv: the rows as CSV")),
            @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(type = "object", description = "{slug}.json: the rows"))})
    HttpResponse<?> serve(String file, HttpRequest<?> request) {
        String format = file.endsWith(".csv") ? "csv" : file.endsWith(".json") ? "json" : "html";
        String slug = format.equals("html") ? file : file.substring(0, file.lastIndexOf('.'));
        Shares.Served served = shares.open(slug, QueryValues.of(request));
        String title = served.clip().title();
        ClipResult result = served.result().orElse(null);
        if (format.equals("html")) {
            List<String[]> rows = result != null && result.succeeded() ? SharePage.tableRows(results.chunks(result)) : List.of();
            return secure(HttpResponse.ok(SharePage.render(title, slug, result, rows)).contentType(MediaType.TEXT_HTML_TYPE));
        }
        if (result == null) {
            throw new KeelException(ProblemType.UNAVAILABLE, "The dataclip's first result is still being computed; try again in a few"
                    + " seconds.");
        }
        if (!result.succeeded()) {
            KeelException failed = new KeelException(ProblemType.INVALID_SQL, "The dataclip's query failed: " + result.errorMessage())
                    .with("sqlstate", result.errorSqlstate() == null ? "" : result.errorSqlstate());
            if (result.errorPosition() != null) {
                failed.with("position", result.errorPosition());
            }
            throw failed;
        }
        Iterator<byte[]> chunks = results.rawChunks(result);
        InputStream body = format.equals("csv") ? new RowStream.Csv(result, chunks) : new RowStream.JsonDocument(title, result, chunks);
        String name = title.replaceAll("[^A-Za-z0-9._-]+", "-") + "." + format;
        return secure(HttpResponse.ok(new StreamedFile(body, format.equals("csv") ? CSV : JSON))
                .header("Access-Control-Allow-Origin", "*")
                .header("Content-Disposition", "inline; filename=\"" + name + "\""));
    }

    @Get("/assets/dataclip.css")
    @ApiResponse(responseCode = "200", content = @Content(mediaType = "text/css", schema = @Schema(type = "string")))
    HttpResponse<?> stylesheet() {
        InputStream css = getClass().getResourceAsStream("/dataclips/dataclip.css");
        return HttpResponse.ok(new StreamedFile(css, MediaType.of("text/css; charset=utf-8"))).header("Cache-Control", "public, max-age=3600");
    }

    /** A shared page must not leak its secret URL through Referer, nor run anything but Keel's own stylesheet. */
    private static <T> MutableHttpResponse<T> secure(MutableHttpResponse<T> response) {
        return response.header("Referrer-Policy", "no-referrer")
                .header("X-Content-Type-Options", "nosniff")
                .header("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none';"
                        + " frame-ancestors 'none'")
                .header("Cache-Control", "no-store");
    }
}
