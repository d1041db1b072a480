package dev.keel.replication;

import dev.keel.RandomStrings;
import dev.keel.credentials.Secrets;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.core.annotation.Nullable;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
    /** How long the client may take to connect: each question has its own deadline, and a warming's may take longer under load. */
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** How many questions a node answers at once: so many connections are worth keeping open to it ({@link #warm}). */
    static final int ANSWERING_THREADS = 8;
    /** How long a warming question may take ({@link #warm}): it only opens a connection, and no one waits for it. */
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
    private final ExecutorService answering = new ThreadPoolExecutor(ANSWERING_THREADS, ANSWERING_THREADS, 1, TimeUnit.MINUTES,
            new ArrayBlockingQueue<>(256), runnable -> {
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
     * or what failed, or no answer within {@code timeout}, retries on a fresh connection included),
     * which is no vouch.
     */
    @Nullable
    String ask(String nodeUrl, UUID primary, UUID standby, Duration timeout) throws InterruptedException {
        String nonce = nonce();
        CompletableFuture<HttpResponse<String>> sent = send(nodeUrl, primary, standby, nonce, timeout);
        try {
            return refusal(sent.get(timeout.toMillis(), TimeUnit.MILLISECONDS), primary, standby, nonce);
        } catch (TimeoutException e) {
            sent.cancel(true);
            return "no answer in time"; // one wording for every timeout: the monitor logs a refusal as it changes
        } catch (ExecutionException e) {
            return e.getCause().toString();
        }
    }

    /**
     * Keeps {@code connections} connections open to {@code nodeUrl} (a node's API) for the questions
     * the self-fence asks of it during a catalog outage, as many as it may ask at once: by as many
     * questions at once about a primary no node watches, each answered by the node's refusal (409,
     * "does not watch it") over the whole path of a real question (the seal, the answering threads,
     * the node's HA monitor). A question then costs neither a client made cold nor a TLS handshake
     * within its half of T_fence, of which the node's own connection to the primary may take
     * 250 ms; and a wrong key or CA between the two nodes shows now, not in an outage. Completes with
     * null when every answer was that refusal, else with what came instead (never exceptionally).
     */
    CompletableFuture<String> warm(String nodeUrl, int connections) {
        List<CompletableFuture<String>> asked = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
            UUID primary = UUID.randomUUID();
            UUID standby = UUID.randomUUID();
            String nonce = nonce();
            asked.add(send(nodeUrl, primary, standby, nonce, WARM_TIMEOUT).handle((response, failure) -> {
                String refusal = failure != null ? failure.toString() : refusal(response, primary, standby, nonce);
                return refusal != null && refusal.startsWith("HTTP 409: ") && refusal.endsWith(" does not watch it.") ? null
                        : Objects.requireNonNullElse(refusal, "it vouched for a primary no node watches");
            }));
        }
        return CompletableFuture.allOf(asked.toArray(CompletableFuture[]::new))
                .thenApply(all -> asked.stream().map(CompletableFuture::join).filter(Objects::nonNull).findFirst().orElse(null));
    }

    private static String nonce() {
        return HexFormat.of().formatHex(RandomStrings.bytes(16));
    }

    private String question(UUID primary, UUID standby, String nonce) {
        return secrets.sealToken(QUESTION, "1", primary.toString(), standby.toString(), nonce,
                Long.toString(Instant.now().plus(VALID_FOR).getEpochSecond()));
    }

    /** Sends a question, never throwing: what fails (a URL that is none, a client that cannot be made) fails the future. */
    private CompletableFuture<HttpResponse<String>> send(String nodeUrl, UUID primary, UUID standby, String nonce, Duration timeout) {
        try {
            return client().sendAsync(HttpRequest.newBuilder(URI.create(nodeUrl + PATH)).header(QUESTION_HEADER, question(primary, standby, nonce))
                    .timeout(timeout).GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Null when {@code response} vouches for this very question, else why not. */
    @Nullable
    private String refusal(HttpResponse<String> response, UUID primary, UUID standby, String nonce) {
        Optional<String> answer = response.headers().firstValue(ANSWER_HEADER);
        if (response.statusCode() == 200 && answer.isPresent()
                && secrets.openToken(answer.get(), ANSWER).equals(Optional.of(List.of("1", primary.toString(), standby.toString(), nonce,
                "vouched")))) {
            return null;
        }
        Matcher detail = DETAIL.matcher(response.body());
        return "HTTP " + response.statusCode() + (detail.find() ? ": " + detail.group(1) : "");
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
            // Each question has its deadline; a connection (a warming's) may take longer on a loaded machine.
            client = authority.nodeHttpClient(CONNECT_TIMEOUT);
        }
        return client;
    }

    @PreDestroy
    void stop() {
        answering.shutdownNow();
    }
}
