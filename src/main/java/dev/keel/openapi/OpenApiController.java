package dev.keel.openapi;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Produces;
import io.swagger.v3.oas.annotations.security.SecurityRequirements;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Properties;

/**
 * {@code /openapi} (JSON), {@code /openapi.yaml}, and Swagger UI at {@code /openapi/ui}, whose
 * files come from the {@code org.webjars:swagger-ui} jar on Keel's class path: no CDN, nothing
 * fetched from elsewhere by the browser.
 */
@Controller
@SecurityRequirements
final class OpenApiController {
    private static final String WEBJAR = "META-INF/resources/webjars/swagger-ui/";
    private static final Map<String, String> UI_FILES = Map.of(
            "swagger-ui.css", "text/css",
            "swagger-ui-bundle.js", "text/javascript",
            "swagger-ui-standalone-preset.js", "text/javascript",
            "favicon-32x32.png", "image/png");
    private static final String PAGE = """
            <!DOCTYPE html>
            <html lang="en">
            <head><meta charset="utf-8"><title>Keel API</title>
            <link rel="stylesheet" href="/openapi/ui/swagger-ui.css">
            <link rel="icon" href="/openapi/ui/favicon-32x32.png"></head>
            <body><div id="swagger-ui"></div>
            <script src="/openapi/ui/swagger-ui-bundle.js"></script>
            <script src="/openapi/ui/swagger-ui-standalone-preset.js"></script>
            <script>window.ui = SwaggerUIBundle({url: "/openapi", dom_id: "#swagger-ui", deepLinking: true,
              presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});</script>
            </body></html>
            """;

    private final OpenApiDocument document;
    private final String uiVersion;

    OpenApiController(OpenApiDocument document) {
        this.document = document;
        this.uiVersion = webjarVersion();
    }

    @Get("/openapi")
    @Produces(MediaType.APPLICATION_JSON)
    String json() {
        return document.json();
    }

    @Get("/openapi.yaml")
    @Produces(MediaType.APPLICATION_YAML)
    String yaml() {
        return document.yaml();
    }

    @Get("/openapi/ui")
    @Produces(MediaType.TEXT_HTML)
    String ui() {
        return PAGE;
    }

    @Get("/openapi/ui/{file}")
    @Produces({"text/css", "text/javascript", "image/png"})
    HttpResponse<byte[]> uiFile(String file) {
        String type = UI_FILES.get(file);
        if (type == null) {
            throw new KeelException(ProblemType.NOT_FOUND, "Swagger UI has no file " + file + " here; the page is /openapi/ui.");
        }
        try (InputStream in = OpenApiController.class.getClassLoader().getResourceAsStream(WEBJAR + uiVersion + "/" + file)) {
            if (in == null) {
                throw new KeelException(ProblemType.NOT_FOUND, "This Keel was built without Swagger UI's " + file + "; the document"
                        + " itself is /openapi.");
            }
            return HttpResponse.ok(in.readAllBytes()).contentType(type).header("Cache-Control", "max-age=86400");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String webjarVersion() {
        try (InputStream in = OpenApiController.class.getClassLoader()
                .getResourceAsStream("META-INF/maven/org.webjars/swagger-ui/pom.properties")) {
            Properties properties = new Properties();
            if (in != null) {
                properties.load(in);
            }
            return properties.getProperty("version", "missing");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
