package dev.keel.replication;

import dev.keel.RandomStrings;
import dev.keel.credentials.Secrets;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The self-fence's second witness, Patroni's failsafe made safe: during a catalog outage a
 * primary's node whose standby does not reply (its server restarting, say) asks the node that hosts
 * the standby to vouch for the primary ({@code GET /internal/standby-vouch}). That node answers yes
 * only after a connection to the primary's port succeeded from there, inside the request, and only
 * after it restarted its own count of the primary's silence from before that connection
 * ({@link HaMonitor#vouch}): it then cannot promote the standby for a whole {@code fencedBy} after
 * the moment the primary's node asked, which counts as its witness from that moment. A port-only
 * firewall or a lossy link makes the connection, and so the vouch, fail: the primary is fenced.
 *
 * <p>Both ways are sealed with the installation's secret key ({@link Secrets#seal}): the question
 * (the primary, a random nonce, an expiry) so that only a node makes another connect, and the
 * answer (the same primary and nonce) so that nothing but the standby's node can make the primary's
 * serve on, whatever the transport (HTTPS with the installation's CA between hosts, and plain HTTP
 * on one machine's loopback).
 */
@Singleton
final class StandbyVouches {
    static final String PATH = "/internal/standby-vouch";
    /** The request header that carries the sealed question, and the response header that carries the sealed answer. */
    static final String QUESTION_HEADER = "Keel-Vouch";
    static final String ANSWER_HEADER = "Keel-Vouch-Answer";
    private static final String QUESTION = "standby-vouch-question";
    private static final String ANSWER = "standby-vouch-answer";
    /**
     * How long a question may be answered: long, since the hosts' wall clocks may differ and a replay
     * is harmless (the node that answers connects only to a primary it watches, and a vouch only
     * pushes back its own count of that primary's silence).
     */
    private static final Duration VALID_FOR = Duration.ofMinutes(10);
    /** How long a warming request may take ({@link #warm}): it only opens a connection, and no one waits for it. */
    private static final Duration WARM_TIMEOUT = Duration.ofSeconds(5);
    /** A refusal's reason, from its problem's detail (which holds no quote or backslash). */
    private static final Pattern DETAIL = Pattern.compile("\"detail\"\\s*:\\s*\"([^\"\\\\]{0,300})\"");

    private final Secrets secrets;
    private final CertificateAuthority authority;
    private HttpClient client;
    /**
     * Where vouches are answered: off the event loop, and off the request threads, which a catalog
     * outage fills with requests waiting for the catalog; a few at once, the rest refused.
     */
    private final ExecutorService answering = new ThreadPoolExecutor(8, 8, 1, TimeUnit.MINUTES, new ArrayBlockingQueue<>(256), runnable -> {
        Thread thread = new Thread(runnable, "standby-vouch");
        thread.setDaemon(true);
        return thread;
    });

    StandbyVouches(Secrets secrets, CertificateAuthority authority) {
        this.secrets = secrets;
        this.authority = authority;
    }

    /** A question the node that answers it opens: the primary it is about, its standby there, and its nonce. */
    record Question(UUID primary, UUID standby, String nonce) {
    }

    /**
     * Asks {@code nodeUrl} (the API of the node hosting {@code standby}) to vouch for {@code primary}:
     * null when it did, with an answer sealed for this very question; else why not (its refusal,
     * or what failed), which is no vouch.
     */
    @Nullable
    String ask(String nodeUrl, UUID primary, UUID standby, Duration timeout) throws InterruptedException {
        String nonce = HexFormat.of().formatHex(RandomStrings.bytes(16));
        String question = secrets.sealToken(QUESTION, "1", primary.toString(), standby.toString(), nonce,
                Long.toString(Instant.now().plus(VALID_FOR).getEpochSecond()));
        try {
            HttpResponse<String> response = client().send(HttpRequest.newBuilder(URI.create(nodeUrl + PATH)).header(QUESTION_HEADER, question)
                    .timeout(timeout).GET().build(), HttpResponse.BodyHandlers.ofString());
            Optional<String> answer = response.headers().firstValue(ANSWER_HEADER);
            if (response.statusCode() == 200 && answer.isPresent()
                    && secrets.openToken(answer.get(), ANSWER).equals(Optional.of(List.of("1", primary.toString(), standby.toString(), nonce,
                    "vouched")))) {
                return null;
            }
            Matcher detail = DETAIL.matcher(response.body());
            return "HTTP " + response.statusCode() + (detail.find() ? ": " + detail.group(1) : "");
        } catch (IOException | IllegalArgumentException e) {
            return e.toString();
        }
    }

    /**
     * Opens, or keeps open, a connection to {@code nodeUrl} (a node's API) for the questions asked of
     * it during a catalog outage, by a request it refuses at once (no question: 404), answered in the
     * background. A question then costs no TLS handshake, nor a client made cold, within a timeout of
     * a quarter of T_fence, of which the node's own connection to the primary may take 250 ms.
     * Called while the catalog answers, at most once a minute per node: the connection stays in the
     * client's pool (HTTP keep-alive, 20 minutes) and the server's (5 idle minutes). Returns the
     * request's end, which Keel does not wait for.
     */
    CompletableFuture<?> warm(String nodeUrl) {
        try {
            return client().sendAsync(HttpRequest.newBuilder(URI.create(nodeUrl + PATH)).timeout(WARM_TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.discarding());
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e); // not a URL: the question asked of it says so (ask)
        }
    }

    /** The question in a request's header: empty when it was altered, sealed with another key, or is stale. */
    Optional<Question> open(String sealed) {
        List<String> parts = secrets.openToken(sealed, QUESTION).orElse(List.of());
        try {
            return parts.size() == 5 && parts.get(0).equals("1") && Instant.ofEpochSecond(Long.parseLong(parts.get(4))).isAfter(Instant.now())
                    ? Optional.of(new Question(UUID.fromString(parts.get(1)), UUID.fromString(parts.get(2)), parts.get(3))) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The sealed answer that vouches for {@code question}'s primary. */
    String vouched(Question question) {
        return secrets.sealToken(ANSWER, "1", question.primary().toString(), question.standby().toString(), question.nonce(), "vouched");
    }

    ExecutorService answering() {
        return answering;
    }

    /** The one client, whose pool {@link #warm} fills for {@link #ask}: made at the first of them (the CA is read by then). */
    private synchronized HttpClient client() {
        if (client == null) {
            client = authority.nodeHttpClient(Duration.ofMillis(250));
        }
        return client;
    }

    @PreDestroy
    void stop() {
        answering.shutdownNow();
    }
}
