package dev.keel.openapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.problems.ProblemType;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import io.micronaut.http.HttpMethod;
import io.micronaut.web.router.Router;
import io.micronaut.web.router.UriRouteInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.yaml.snakeyaml.Yaml;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The OpenAPI document: every route the server answers is in it, the problem types are listed, and the UI needs no CDN. */
@ExtendWith(SharedKeel.class)
class OpenApiTest {
    @Test
    void everyRouteTheServerAnswersIsInTheDocument(TestKeel keel) {
        JsonNode doc = keel.api().withKey(null).get("/openapi").json();
        Set<String> documented = new HashSet<>();
        doc.get("paths").fields().forEachRemaining(path -> path.getValue().fieldNames()
                .forEachRemaining(method -> documented.add(method.toUpperCase(Locale.ROOT) + " " + normalize(path.getKey()))));
        List<String> missing = new ArrayList<>();
        int routes = 0;
        for (UriRouteInfo<?, ?> route : keel.bean(Router.class).uriRoutes().map(r -> (UriRouteInfo<?, ?>) r).toList()) {
            if (route.getHttpMethod() == HttpMethod.HEAD || route.getHttpMethod() == HttpMethod.OPTIONS) {
                continue;
            }
            routes++;
            String key = route.getHttpMethodName() + " " + normalize(route.getUriMatchTemplate().toPathString());
            if (!documented.contains(key)) {
                missing.add(key);
            }
        }
        assertThat(routes).isGreaterThan(60);
        assertThat(missing).as("routes the server answers that the document lacks").isEmpty();
    }

    @Test
    void theDocumentListsEveryProblemTypeAndServesAsJsonAndYaml(TestKeel keel) {
        Api anonymous = keel.api().withKey(null);
        Api.Response json = anonymous.get("/openapi");
        assertThat(json.status()).isEqualTo(200);
        assertThat(json.contentType()).startsWith("application/json");
        Api.Response yaml = anonymous.get("/openapi.yaml");
        assertThat(yaml.contentType()).contains("yaml");
        Map<String, Object> parsed = new Yaml().load(yaml.text());
        assertThat(parsed.get("openapi").toString()).startsWith("3.");
        assertThat(((Map<?, ?>) parsed.get("paths")).keySet()).hasSize(json.json().get("paths").size());
        List<String> listed = new ArrayList<>();
        json.json().get("x-problem-types").forEach(t -> listed.add(t.get("type").asText()));
        for (ProblemType type : ProblemType.values()) {
            assertThat(listed).contains(type.uri());
        }
        JsonNode logs = json.json().get("paths").get("/v1/databases/{database}/logs").get("get");
        assertThat(logs.toString()).contains("text/event-stream").contains("application/problem+json");
        assertThat(json.text()).doesNotContain("#/components/schemas/Caller");
    }

    @Test
    void swaggerUiIsServedFromKeelItself(TestKeel keel) {
        Api anonymous = keel.api().withKey(null);
        Api.Response page = anonymous.get("/openapi/ui");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.contentType()).startsWith("text/html");
        assertThat(page.text()).doesNotContain("http://").doesNotContain("https://").contains("/openapi/ui/swagger-ui-bundle.js");
        Api.Response bundle = anonymous.get("/openapi/ui/swagger-ui-bundle.js");
        assertThat(bundle.status()).isEqualTo(200);
        assertThat(bundle.contentType()).startsWith("text/javascript");
        assertThat(bundle.text().length()).isGreaterThan(100_000);
        assertThat(anonymous.get("/openapi/ui/swagger-ui.css").status()).isEqualTo(200);
        assertThat(anonymous.get("/openapi/ui/..%2Fpom.properties").status()).isEqualTo(404);
    }

    private static String normalize(String template) {
        return template.replaceAll("\\{[^}]*}", "{}");
    }
}
