package dev.keel.addons;

import dev.keel.DaemonThreads;
import dev.keel.jobs.Loops;
import io.micronaut.json.JsonMapper;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Tells the platform that an add-on resource is ready, as Add-on Partner API v3 asks of an
 * asynchronous provision: {@code PATCH <callback_url>/config} with the config vars, then
 * {@code POST <callback_url>/actions/provision}. Retried with backoff; a resource still not
 * confirmed is sent again at Keel's next start.
 */
@Singleton
final class ProvisionCallbacks {
    private static final Logger LOG = LoggerFactory.getLogger(ProvisionCallbacks.class);
    private static final int ATTEMPTS = 6;

    private final AddonSettings settings;
    private final AddonRepository repository;
    private final JsonMapper json;
    private final Set<UUID> sending = ConcurrentHashMap.newKeySet();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ExecutorService executor = Executors.newSingleThreadExecutor(DaemonThreads.named("addon-callbacks"));

    ProvisionCallbacks(AddonSettings settings, AddonRepository repository, JsonMapper json) {
        this.settings = settings;
        this.repository = repository;
        this.json = json;
    }

    /** Sends, in the background, that {@code resource} is ready with {@code url}. */
    void provisioned(AddonResource resource, String url) {
        if (resource.callbackUrl() == null || resource.callbackUrl().isBlank()) {
            repository.update(resource.id(), AddonResource.PROVISIONED, resource.plan());
            return;
        }
        if (sending.add(resource.id())) {
            executor.execute(() -> {
                try {
                    Loops.round("Calling back about add-on resource " + resource.id(), () -> deliver(resource, url));
                } finally {
                    sending.remove(resource.id());
                }
            });
        }
    }

    private void deliver(AddonResource resource, String url) {
        if (repository.find(resource.id()).map(r -> !AddonResource.PROVISIONING.equals(r.state())).orElse(true)) {
            return; // told already, or deprovisioned meanwhile
        }
        Optional<String> refusal = CallbackUrl.refusal(resource.callbackUrl());
        if (refusal.isPresent()) {
            // Stored before callbacks had to be https: the platform is not told, rather than told in the clear.
            LOG.error("Not calling back about add-on resource {}: its callback URL {}", resource.id(), refusal.get());
            return;
        }
        String base = resource.callbackUrl().replaceAll("/+$", "");
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                Map<String, String> var = new LinkedHashMap<>();
                var.put("name", settings.configVar());
                var.put("value", url);
                send("PATCH", base + "/config", Map.of("config", List.of(var)));
                send("POST", base + "/actions/provision", Map.of());
                repository.update(resource.id(), AddonResource.PROVISIONED, resource.plan());
                LOG.info("Told the platform that add-on resource {} (database {}) is provisioned", resource.id(), resource.databaseId());
                return;
            } catch (IOException e) {
                LOG.warn("Could not tell the platform that add-on resource {} is provisioned (attempt {} of {}): {}", resource.id(),
                        attempt, ATTEMPTS, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            try {
                Thread.sleep(1000L << (attempt - 1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        LOG.error("Gave up telling the platform that add-on resource {} is provisioned; Keel tries again at its next start", resource.id());
    }

    /**
     * Sends with the configured callback token, or with no credentials: the manifest's password
     * authenticates the platform to Keel and never leaves Keel.
     */
    private void send(String method, String target, Object body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(target)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("Accept", "application/vnd.heroku+json; version=3")
                .method(method, HttpRequest.BodyPublishers.ofByteArray(json.writeValueAsBytes(body)));
        if (!settings.callbackToken().isEmpty()) {
            request.header("Authorization", "Bearer " + settings.callbackToken());
        }
        HttpResponse<String> response = client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IOException(method + " " + target + " answered " + response.statusCode());
        }
    }

    @PreDestroy
    void stop() {
        executor.shutdownNow();
    }
}
