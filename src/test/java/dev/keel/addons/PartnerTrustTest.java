package dev.keel.addons;

import com.sun.net.httpserver.HttpServer;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import io.micronaut.json.JsonMapper;
import org.jooq.DSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.ADDON_RESOURCES;
import static dev.keel.catalog.schema.Tables.DATABASES;
import static dev.keel.catalog.schema.Tables.TEAMS;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a platform and customers cannot make Keel do through the Partner API: call back over
 * plain http to another host, send the manifest's password anywhere, or hand add-on databases to
 * a customer team that took the add-on team's name.
 */
@ExtendWith(SharedKeel.class)
class PartnerTrustTest {
    @Test
    void aProvisionWhoseCallbackIsNotHttpsIsRefusedAndMakesNothing(TestKeel keel) {
        DSLContext catalog = keel.bean(DSLContext.class);
        List<UUID> sent = new ArrayList<>();
        Map<String, String> refused = Map.ofEntries(
                Map.entry("http://platform.example.com/addons/x", "is plain http to another host"),
                Map.entry("http://10.1.2.3/addons/x", "is plain http to another host"),
                Map.entry("http://localhost.example.com/addons/x", "is plain http to another host"),
                Map.entry("ftp://platform.example.com/x", "is not an absolute https URL"),
                Map.entry("javascript:alert(1)", "is not an absolute https URL"),
                Map.entry("/addons/x", "is not an absolute https URL"),
                Map.entry("not a url", "holds a space, a control or a non-ASCII character; percent-encode it"),
                Map.entry("https://platform.example.com/caf\u00e9", "holds a space, a control or a non-ASCII character"),
                Map.entry("https://platform.example.com/a%zz", "is not a URL"),
                Map.entry("https://keel:secret@platform.example.com/x", "carries credentials"),
                Map.entry("https://platform.example.com/" + "a".repeat(2000), "characters long; Keel keeps at most 2000"));
        for (Map.Entry<String, String> url : refused.entrySet()) {
            UUID uuid = UUID.randomUUID();
            sent.add(uuid);
            Api.Response answer = partner(keel, "POST", "/heroku/resources", "{\"uuid\":\"" + uuid + "\",\"plan\":\"essential-0\","
                    + "\"name\":\"refused-callback-" + sent.size() + "\",\"callback_url\":\"" + url.getKey() + "\"}", SharedKeel.ADDON_PASSWORD);
            assertThat(answer.status()).as(url.getKey() + ": " + answer).isEqualTo(422);
            assertThat(answer.field("message")).as(url.getKey()).startsWith("\"callback_url\" ").contains(url.getValue())
                    .endsWith("send the https URL Keel should call back when the resource is ready.");
        }
        // Other tests share this Keel: nothing of these requests, rather than no change at all.
        assertThat(catalog.fetchCount(ADDON_RESOURCES, ADDON_RESOURCES.ID.in(sent))).isZero();
        assertThat(catalog.fetchCount(DATABASES, DATABASES.NAME.like("refused-callback-%"))).isZero();
    }

    @Test
    void callbacksCarryTheConfiguredTokenAndNeverTheManifestPassword(TestKeel keel) throws Exception {
        List<String> seen = Collections.synchronizedList(new ArrayList<>());
        HttpServer platform = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        platform.createContext("/", exchange -> {
            seen.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " " + exchange.getRequestHeaders().getFirst("Authorization")
                    + " " + new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        platform.start();
        AddonRepository repository = keel.bean(AddonRepository.class);
        UUID resource = UUID.randomUUID();
        ProvisionCallbacks callbacks = new ProvisionCallbacks(new AddonSettings("keel", "manifest-password", "addons", "platform-token"),
                repository, keel.bean(JsonMapper.class));
        try {
            repository.insert(resource, UUID.randomUUID(), "essential-0", "http://127.0.0.1:" + platform.getAddress().getPort() + "/addons/" + resource);
            callbacks.provisioned(repository.find(resource).orElseThrow(), "postgres://u:p@db.example:5432/d");
            Wait.until("the platform to be called back", Timeouts.PROVISION, () -> seen.size() >= 2);
            assertThat(seen).hasSize(2);
            assertThat(seen.get(0)).startsWith("PATCH /addons/" + resource + "/config Bearer platform-token {\"config\":[{\"name\":\"KEEL_URL\"");
            assertThat(seen.get(1)).startsWith("POST /addons/" + resource + "/actions/provision Bearer platform-token");
            assertThat(String.join("\n", seen)).doesNotContain("manifest-password")
                    .doesNotContain(Base64.getEncoder().encodeToString("keel:manifest-password".getBytes(StandardCharsets.UTF_8)));
            Wait.until("the resource to be provisioned", Timeouts.REQUEST,
                    () -> repository.find(resource).map(r -> r.state().equals(AddonResource.PROVISIONED)).orElse(false));
        } finally {
            callbacks.stop();
            platform.stop(0);
            keel.bean(DSLContext.class).deleteFrom(ADDON_RESOURCES).where(ADDON_RESOURCES.ID.eq(resource)).execute();
        }
    }

    @Test
    void noCustomerTeamBecomesTheAddOnTeamByItsName() {
        TestKeel keel = TestKeel.start("partner-team", Map.of("keel.addon.password", "pw", "keel.addon.team", "acme"));
        try {
            DSLContext catalog = keel.bean(DSLContext.class);
            Api.Response taken = keel.api().post("/v1/teams", "{\"name\":\"acme\"}");
            assertThat(taken.status()).as(taken.toString()).isEqualTo(422);
            assertThat(taken.field("detail")).isEqualTo("The team name acme is reserved for the team that owns add-on databases"
                    + " (KEEL_ADDON_TEAM); choose another name.");

            // A customer team of that name from before (or KEEL_ADDON_TEAM changed to it): add-ons are refused, not handed to it.
            UUID customer = UUID.randomUUID();
            catalog.insertInto(TEAMS).set(TEAMS.ID, customer).set(TEAMS.NAME, "acme").execute();
            String body = "{\"uuid\":\"" + UUID.randomUUID() + "\",\"plan\":\"essential-0\"}";
            Api.Response refused = partner(keel, "POST", "/heroku/resources", body, "pw");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(503);
            assertThat(refused.field("message")).isEqualTo("Keel cannot provision add-ons until its operator sets KEEL_ADDON_TEAM to a name"
                    + " no team has (acme is a customer team's).");
            assertThat(catalog.fetchCount(DATABASES)).isZero();

            keel.stopControlPlane();
            keel.startControlPlane(Map.of("keel.addon.team", "acme-addons"));
            catalog = keel.bean(DSLContext.class);
            Api.Response provisioned = partner(keel, "POST", "/heroku/resources", body, "pw");
            assertThat(provisioned.status()).as(provisioned.toString()).isEqualTo(202);
            UUID platformTeam = catalog.select(TEAMS.ID).from(TEAMS).where(TEAMS.PLATFORM.isTrue()).fetchSingle(TEAMS.ID);
            assertThat(catalog.select(TEAMS.NAME).from(TEAMS).where(TEAMS.ID.eq(platformTeam)).fetchSingle(TEAMS.NAME)).isEqualTo("acme-addons");
            assertThat(catalog.select(DATABASES.TEAM_ID).from(DATABASES).fetch(DATABASES.TEAM_ID)).containsExactly(platformTeam);

            // Found by its mark from then on, whatever KEEL_ADDON_TEAM says; and its name cannot be taken either.
            keel.stopControlPlane();
            keel.startControlPlane(Map.of("keel.addon.team", "acme"));
            assertThat(keel.api().post("/v1/teams", "{\"name\":\"acme-addons\"}").status()).isEqualTo(422);
            String id = provisioned.field("id");
            Wait.until("the add-on database to be available", Timeouts.PROVISION, () -> keel.bean(DSLContext.class)
                    .fetchExists(DATABASES, DATABASES.ID.eq(UUID.fromString(id)).and(DATABASES.STATE.eq("available"))));
            assertThat(partner(keel, "DELETE", "/heroku/resources/" + id, null, "pw").status()).isEqualTo(204);
        } finally {
            keel.close();
        }
    }

    private static Api.Response partner(TestKeel keel, String method, String path, String json, String password) {
        Api api = keel.api().withKey(null);
        HttpRequest.Builder request = api.request(path).header("Authorization", "Basic " + Base64.getEncoder()
                .encodeToString(("keel:" + password).getBytes(StandardCharsets.UTF_8)));
        return api.send(json == null ? request.method(method, HttpRequest.BodyPublishers.noBody())
                : request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json)));
    }
}
