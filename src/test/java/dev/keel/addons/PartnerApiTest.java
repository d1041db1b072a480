package dev.keel.addons;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import static dev.keel.catalog.schema.Tables.ADDON_RESOURCES;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static org.assertj.core.api.Assertions.assertThat;

/** The Add-on Partner API v3 as a platform drives it: provision with a callback, retries, plan change, deprovision, refusals. */
@ExtendWith(SharedKeel.class)
class PartnerApiTest {
    private static final String BASIC = "Basic " + Base64.getEncoder().encodeToString(("keel:" + SharedKeel.ADDON_PASSWORD)
            .getBytes(StandardCharsets.UTF_8));

    /** A platform's callback endpoint: records each request as "METHOD path body". */
    private static final class Receiver implements AutoCloseable {
        final List<String> requests = Collections.synchronizedList(new ArrayList<>());
        final HttpServer server;

        Receiver() throws Exception {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/", exchange -> {
                String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " " + body + " "
                        + exchange.getRequestHeaders().getFirst("Authorization"));
                exchange.sendResponseHeaders(200, -1);
                exchange.close();
            });
            server.start();
        }

        String url(String path) {
            return "http://127.0.0.1:" + server.getAddress().getPort() + path;
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    @Test
    void aPlatformProvisionsChangesPlanAndDeprovisionsAnAddOn(TestKeel keel) throws Exception {
        Api api = keel.api().withKey(null);
        DSLContext catalog = keel.bean(DSLContext.class);
        String uuid = UUID.randomUUID().toString();
        try (Receiver platform = new Receiver()) {
            String body = "{\"uuid\":\"" + uuid + "\",\"plan\":\"keel:essential-0\",\"region\":\"amazon-web-services::us-east-1\","
                    + "\"callback_url\":\"" + platform.url("/addons/" + uuid) + "\",\"name\":\"keel-shiny-12345\",\"options\":{},"
                    + "\"log_drain_token\":\"d.abc\",\"oauth_grant\":{\"code\":\"x\",\"type\":\"authorization_code\"},\"future_field\":1}";

            // Two deliveries at once make one database.
            CompletableFuture<Api.Response> first = CompletableFuture.supplyAsync(() -> partner(api, "POST", "/heroku/resources", body));
            Api.Response second = partner(api, "POST", "/heroku/resources", body);
            Api.Response provisioned = first.join();
            assertThat(provisioned.status()).as(provisioned.toString()).isIn(200, 202);
            assertThat(second.status()).isIn(200, 202);
            String id = provisioned.field("id");
            assertThat(second.field("id")).isEqualTo(id);
            assertThat(provisioned.field("message")).contains("keel-shiny-12345");
            assertThat(catalog.fetchCount(ADDON_RESOURCES, ADDON_RESOURCES.ID.eq(UUID.fromString(uuid)))).isEqualTo(1);
            assertThat(catalog.fetchCount(DATABASES, DATABASES.ID.eq(UUID.fromString(id)))).isEqualTo(1);
            assertThat(catalog.fetchCount(DATABASES, DATABASES.NAME.eq("keel-shiny-12345"))).isEqualTo(1);

            // Once ready: the platform is told, config first, then the provision action.
            Wait.until("the platform to be called back", Timeouts.PROVISION, () -> platform.requests.size() >= 2);
            assertThat(platform.requests.get(0)).startsWith("PATCH /addons/" + uuid + "/config {\"config\":[{\"name\":\"KEEL_URL\","
                    + "\"value\":\"postgres://").endsWith(" null"); // no credentials: the manifest's password stays with Keel
            assertThat(platform.requests.get(1)).startsWith("POST /addons/" + uuid + "/actions/provision ");

            // A retry after it is ready answers 200 with the config, and its URL connects.
            Api.Response ready = partner(api, "POST", "/heroku/resources", body);
            assertThat(ready.status()).isEqualTo(200);
            assertThat(ready.field("id")).isEqualTo(id);
            String url = ready.json().get("config").get("KEEL_URL").asText();
            assertThat(platform.requests.get(0)).contains(url);
            try (Connection connection = Pg.connect(url, keel.caFile())) {
                assertThat(Pg.scalar(connection, "select 1")).isEqualTo("1");
            }

            Api.Response samePlan = partner(api, "PUT", "/heroku/resources/" + id, "{\"plan\":\"essential-0\",\"heroku_id\":\"x\"}");
            assertThat(samePlan.status()).isEqualTo(200);
            assertThat(samePlan.field("message")).contains("is on plan essential-0 already");
            Api.Response changed = partner(api, "PUT", "/heroku/resources/" + uuid, "{\"plan\":\"keel:standard-0\"}");
            assertThat(changed.status()).as(changed.toString()).isEqualTo(200);
            assertThat(changed.field("message")).contains("restarting the server for max_connections 120");
            assertThat(catalog.select(DATABASES.PLAN).from(DATABASES).where(DATABASES.ID.eq(UUID.fromString(id))).fetchOne(DATABASES.PLAN))
                    .isEqualTo("standard-0");
            Api.Response badPlan = partner(api, "PUT", "/heroku/resources/" + id, "{\"plan\":\"gold\"}");
            assertThat(badPlan.status()).isEqualTo(422);
            assertThat(badPlan.field("message")).contains("There is no plan 'gold'");

            Wait.until("the plan change to finish", Timeouts.PROVISION, () -> catalog.fetchCount(dev.keel.catalog.schema.Tables.OPERATIONS,
                    dev.keel.catalog.schema.Tables.OPERATIONS.DATABASE_ID.eq(UUID.fromString(id))
                            .and(dev.keel.catalog.schema.Tables.OPERATIONS.STATE.eq("running"))) == 0);
            assertThat(partner(api, "DELETE", "/heroku/resources/" + id, null).status()).isEqualTo(204);
            assertThat(partner(api, "DELETE", "/heroku/resources/" + id, null).status()).as("a repeated delivery").isEqualTo(204);
            Wait.until("the database to be gone", Timeouts.DEPROVISION,
                    () -> catalog.fetchCount(DATABASES, DATABASES.ID.eq(UUID.fromString(id))) == 0);
            assertThat(partner(api, "POST", "/heroku/resources", body).status()).as("a deprovisioned uuid is not provisioned again")
                    .isEqualTo(409);
        }
    }

    @Test
    void refusalsSayWhatIsWrong(TestKeel keel) {
        Api api = keel.api().withKey(null);
        String body = "{\"uuid\":\"" + UUID.randomUUID() + "\",\"plan\":\"platinum\",\"callback_url\":\"http://127.0.0.1:9/x\"}";
        Api.Response unknownPlan = partner(api, "POST", "/heroku/resources", body);
        assertThat(unknownPlan.status()).isEqualTo(422);
        assertThat(unknownPlan.field("message")).startsWith("There is no plan 'platinum'; choose one of");
        Api.Response noUuid = partner(api, "POST", "/heroku/resources", "{\"plan\":\"essential-0\"}");
        assertThat(noUuid.status()).isEqualTo(422);
        assertThat(noUuid.field("message")).contains("\"uuid\" must be the add-on resource's UUID");

        String wrong = "Basic " + Base64.getEncoder().encodeToString("keel:guess".getBytes(StandardCharsets.UTF_8));
        Api.Response badPassword = api.send(api.request("/heroku/resources").header("Authorization", wrong)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)));
        assertThat(badPassword.status()).isEqualTo(401);
        assertThat(badPassword.field("detail")).contains("Authorization: Basic");
        Api.Response bearer = keel.api().post("/heroku/resources", body);
        assertThat(bearer.status()).as("an API key is not the manifest's password").isEqualTo(401);
        assertThat(partner(api, "DELETE", "/heroku/resources/" + UUID.randomUUID(), null).status()).isEqualTo(404);
        assertThat(partner(api, "PUT", "/heroku/resources/not-a-uuid", "{\"plan\":\"standard-0\"}").status()).isEqualTo(404);
    }

    private static Api.Response partner(Api api, String method, String path, String json) {
        HttpRequest.Builder request = api.request(path).header("Authorization", BASIC).header("Accept", "application/vnd.heroku+json; version=3");
        return api.send(json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
                : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)));
    }
}
