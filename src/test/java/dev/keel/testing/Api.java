package dev.keel.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Optional;

/** A client of Keel's REST API with one API key, as curl would be. */
public final class Api {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Timeouts.REQUEST).build();

    private final String baseUrl;
    private final String key;
    private final HttpClient http;

    public Api(String baseUrl, String key) {
        this(baseUrl, key, HTTP);
    }

    private Api(String baseUrl, String key, HttpClient http) {
        this.baseUrl = baseUrl;
        this.key = key;
        this.http = http;
    }

    /** An HTTPS client that trusts only the CA in {@code caFile} (and checks the host name, as any HTTPS client does). */
    public static Api trusting(String baseUrl, String key, java.nio.file.Path caFile) {
        try (java.io.InputStream pem = java.nio.file.Files.newInputStream(caFile)) {
            java.security.KeyStore trusted = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            trusted.load(null, null);
            trusted.setCertificateEntry("keel-ca", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(pem));
            javax.net.ssl.TrustManagerFactory trust = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            javax.net.ssl.SSLContext tls = javax.net.ssl.SSLContext.getInstance("TLS");
            tls.init(null, trust.getTrustManagers(), null);
            return new Api(baseUrl, key, HttpClient.newBuilder().connectTimeout(Timeouts.REQUEST).sslContext(tls).build());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    public Api withKey(String otherKey) {
        return new Api(baseUrl, otherKey, http);
    }

    public String key() {
        return key;
    }

    public String baseUrl() {
        return baseUrl;
    }

    /** An answer: status, content type, body as text and (when JSON) as a tree. */
    public record Response(int status, String contentType, String text, JsonNode json) {
        public String field(String name) {
            JsonNode node = json.get(name);
            return node == null || node.isNull() ? null : node.asText();
        }

        @Override
        public String toString() {
            return status + " " + contentType + " " + text;
        }
    }

    public Response get(String path) {
        return send(request(path).GET());
    }

    public Response delete(String path) {
        return send(request(path).DELETE());
    }

    /** POST with a JSON body and Content-Type: application/json. */
    public Response post(String path, String json) {
        return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    public Response patch(String path, String json) {
        return send(request(path).header("Content-Type", "application/json").method("PATCH", HttpRequest.BodyPublishers.ofString(json)));
    }

    public Response put(String path, String json) {
        return send(request(path).header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(json)));
    }

    /** POST exactly as {@code curl -d '<body>'} does: Content-Type application/x-www-form-urlencoded. */
    public Response postLikeCurl(String path, String body) {
        return send(request(path).header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    public Response send(HttpRequest.Builder builder) {
        try {
            HttpRequest request = builder.build();
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            String type = response.headers().firstValue("Content-Type").orElse("");
            ApiContract.check(http, baseUrl, request.method(), request.uri(), response.statusCode(), type, response.body());
            JsonNode json = type.contains("json") && !response.body().isEmpty() ? JSON.readTree(response.body()) : JSON.nullNode();
            return new Response(response.statusCode(), type, response.body(), json);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Timeouts.REQUEST);
        return key == null ? builder : builder.header("Authorization", "Bearer " + key);
    }

    /** Provisions and waits until the database is available; returns its final representation. */
    /**
     * Provisions and waits until the database is available and its provision has finished: the
     * operation still ends its last step (what listens for a new database runs) just after the
     * state turns available, and a change asked for in that moment is refused as already queued.
     */
    public JsonNode provision(String body) {
        Response created = post("/v1/databases", body);
        if (created.status() != 202) {
            throw new AssertionError("provisioning answered " + created);
        }
        JsonNode available = awaitAvailable(created.field("id"));
        String operation = created.json().path("progress").path("operation_id").asText("");
        if (!operation.isEmpty()) {
            Wait.until("provision " + operation + " to finish", Timeouts.PROVISION,
                    () -> !"running".equals(get("/v1/operations/" + operation).field("state")));
        }
        return available;
    }

    public JsonNode awaitAvailable(String id) {
        return awaitAvailable(id, Timeouts.PROVISION);
    }

    public JsonNode awaitAvailable(String id, java.time.Duration patience) {
        return Wait.until("database " + id + " to become available", patience, () -> {
            Response r = get("/v1/databases/" + id);
            if (r.status() == 200 && "failed".equals(r.field("state"))) {
                throw new AssertionError("database " + id + " failed: " + r.field("state_reason"));
            }
            return r.status() == 200 && "available".equals(r.field("state")) ? Optional.of(r.json()) : Optional.empty();
        });
    }

    /** Deletes and waits until the database is gone (404). */
    public void deprovision(String id) {
        Response deleted = delete("/v1/databases/" + id);
        if (deleted.status() != 202) {
            throw new AssertionError("deleting answered " + deleted);
        }
        awaitGone(id);
    }

    /** Waits until the database is available or failed, and returns it. */
    public JsonNode awaitSettled(String id) {
        return Wait.until("database " + id + " to be available or failed", Timeouts.RESTORE, () -> {
            JsonNode db = get("/v1/databases/" + id).json();
            String state = db.get("state").asText();
            return state.equals("available") || state.equals("failed") ? Optional.of(db) : Optional.empty();
        });
    }

    /** Waits until the database is {@code failed} and returns it. */
    public JsonNode awaitFailed(String id) {
        if (id == null) {
            throw new AssertionError("no database to wait for: the request that should have made it was refused");
        }
        return Wait.until("database " + id + " to fail", Timeouts.RESTORE, () -> {
            Response r = get("/v1/databases/" + id);
            if (r.status() == 200 && "available".equals(r.field("state"))) {
                throw new AssertionError("database " + id + " became available");
            }
            return r.status() == 200 && "failed".equals(r.field("state")) ? Optional.of(r.json()) : Optional.empty();
        });
    }

    public void awaitGone(String id) {
        Response[] last = new Response[1];
        try {
            Wait.until("database " + id + " to be gone", Timeouts.DEPROVISION, () -> (last[0] = get("/v1/databases/" + id)).status() == 404);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; it last answered " + last[0], e);
        }
    }

    public static JsonNode parse(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
