package dev.keel.dumps;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.keel.DaemonThreads;
import dev.keel.Network;
import dev.keel.StartupException;
import dev.keel.archive.Sha256;
import dev.keel.auth.ApiKeys;
import dev.keel.postgres.Durations;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.context.annotation.Value;
import io.micronaut.context.event.ApplicationEventListener;
import io.micronaut.runtime.server.event.ServerStartupEvent;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Serves logical backups by their signed links ({@code https://<host>:<port>/dumps/<id>?...}) on
 * its own HTTPS port ({@code KEEL_BACKUPS_DOWNLOAD_PORT}), with a certificate from the
 * installation CA, so that the Heroku CLI (which downloads over https only) and any client holding
 * the CA can fetch them. Each download is streamed from the object store and checked against the
 * backup's sha256: the last bytes are sent only once the rest matched, so a corrupt dump never
 * arrives whole. Started once Keel serves its API (the CA is loaded by then).
 *
 * <p>Links are reusable until they expire. TLS handshakes and requests run on {@link #THREADS}
 * threads, downloads on at most {@link DownloadPlaces#SLOTS} of them ({@link DownloadPlaces}; a
 * download beyond is 503 with Retry-After), and the JDK's server accepts at most
 * {@link #MAX_CONNECTIONS} connections, idle ones included ({@code jdk.httpserver.maxConnections},
 * read once per JVM when its first server is made: set here unless set already). So that a few
 * clients that read slowly or not at all cannot hold the downloads' places, a backup is downloaded
 * at most {@link DownloadPlaces#MAX_PER_BACKUP} times at once, a team's backups at most
 * {@code KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM} times, a connection must send its request
 * (and be answered, when refused) within {@code KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN}, and a download that moves no byte for
 * {@code KEEL_BACKUPS_DOWNLOAD_STALL}, or has averaged less than {@code KEEL_BACKUPS_DOWNLOAD_MIN_RATE}
 * since it began (its first {@code KEEL_BACKUPS_DOWNLOAD_STALL} aside), is ended ({@link DownloadStallWatch}). A link works
 * only while the API key that made it is not revoked: a revocation refuses new downloads and ends those under way (the
 * stall watch asks {@link ApiKeys#stillActive}).
 */
@Singleton
final class DumpDownloadServer implements ApplicationEventListener<ServerStartupEvent> {
    private static final Logger LOG = LoggerFactory.getLogger(DumpDownloadServer.class);
    /**
     * Threads for TLS handshakes, requests and the downloads given a place: far more than places, so that connections that are
     * slow to send their request (each held up to the request deadline) do not queue a real client behind them.
     */
    static final int THREADS = 64;
    /** Threads that ask whether downloads' API keys are still active (the catalog, each ask one quick query). */
    private static final int ASKERS = 2;
    /** How many connections the JDK's server keeps open at once, idle ones included; it closes any beyond at once. */
    static final int MAX_CONNECTIONS = 256;
    private static final String MAX_CONNECTIONS_PROPERTY = "jdk.httpserver.maxConnections";
    private static final int BUFFER = 1 << 17;

    private final Network network;
    private final CertificateAuthority authority;
    private final DumpLinks links;
    private final TransferRepository transfers;
    private final DumpObjects objects;
    private final int configuredPort;
    private final ApiKeys keys;
    private final Duration stall;
    private final Duration requestWithin;
    private final long minRate;
    private final DownloadPlaces places;
    private HttpsServer server;
    private ExecutorService executor;
    /**
     * Runs the watch's asks whether a download's API key is still active, on threads of their own: in the download pool's
     * unbounded queue an ask would wait behind every exchange queued there, which a hostile client fills with slow TLS
     * handshakes, and a revoked key's download went on that long. At most one ask per download waits, so the queue holds
     * {@link #THREADS}; an ask refused all the same is asked again at the watch's next turn.
     */
    private ExecutorService asker;
    private DownloadStallWatch watch;

    DumpDownloadServer(Network network, CertificateAuthority authority, DumpLinks links, TransferRepository transfers, DumpObjects objects,
                       ApiKeys keys, @Value("${keel.backups.download-port:5481}") int configuredPort,
                       @Value("${keel.backups.download-stall:60s}") String stall,
                       @Value("${keel.backups.download-request-within:10s}") String requestWithin,
                       @Value("${keel.backups.download-min-rate:64}") long minRateKib,
                       @Value("${keel.backups.download-max-per-team:2}") int maxPerTeam) {
        this.stall = Durations.parse("KEEL_BACKUPS_DOWNLOAD_STALL", stall);
        if (this.stall.toSeconds() < 1) {
            throw new StartupException("KEEL_BACKUPS_DOWNLOAD_STALL (" + stall + ") must be at least 1s: a download that moves no byte for"
                    + " that long is ended");
        }
        this.requestWithin = Durations.parse("KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN", requestWithin);
        if (this.requestWithin.toSeconds() < 1) {
            throw new StartupException("KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN (" + requestWithin + ") must be at least 1s: a connection"
                    + " that has not sent its request by then is closed");
        }
        if (minRateKib < 0) {
            throw new StartupException("KEEL_BACKUPS_DOWNLOAD_MIN_RATE (" + minRateKib + ") must be 0 or more: it is the KiB a second a"
                    + " download must average since it began (0: no such rate)");
        }
        this.minRate = minRateKib * 1024;
        if (maxPerTeam < 1) {
            throw new StartupException("KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM (" + maxPerTeam + ") must be at least 1: it is how many"
                    + " downloads of one team's backups may run at once");
        }
        this.places = new DownloadPlaces(maxPerTeam);
        this.keys = keys;
        this.network = network;
        this.authority = authority;
        this.links = links;
        this.transfers = transfers;
        this.objects = objects;
        this.configuredPort = configuredPort;
    }

    @Override
    public synchronized void onApplicationEvent(ServerStartupEvent event) {
        if (server != null) {
            return;
        }
        try {
            if (System.getProperty(MAX_CONNECTIONS_PROPERTY) == null) {
                System.setProperty(MAX_CONNECTIONS_PROPERTY, Integer.toString(MAX_CONNECTIONS));
            }
            HttpsServer https = HttpsServer.create(new InetSocketAddress(InetAddress.getByName(network.bind()), configuredPort), 50);
            https.setHttpsConfigurator(new HttpsConfigurator(authority.serverContext(List.of(network.publicHost(), network.localHost(),
                    "localhost"))));
            executor = Executors.newFixedThreadPool(THREADS, DaemonThreads.numbered("keel-download"));
            asker = new ThreadPoolExecutor(ASKERS, ASKERS, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(THREADS),
                    DaemonThreads.numbered("keel-download-key"));
            watch = new DownloadStallWatch(requestWithin, stall, minRate, asker);
            https.setExecutor(watch.watching(executor));
            https.createContext(DumpLinks.PATH, this::serve);
            https.start();
            server = https;
            LOG.info("Backup downloads served on https://{}:{}", network.publicHost(), port());
        } catch (IOException e) {
            throw new UncheckedIOException("could not listen for backup downloads on port " + configuredPort
                    + " (KEEL_BACKUPS_DOWNLOAD_PORT)", e);
        }
    }

    /** The port downloads are served on. */
    synchronized int port() {
        if (server == null) {
            throw new IllegalStateException("backup downloads are not served yet");
        }
        return server.getAddress().getPort();
    }

    /** The full https URL of a signed link. */
    URI url(DumpLinks.Signed signed) {
        String host = network.publicHost().contains(":") ? "[" + network.publicHost() + "]" : network.publicHost();
        return URI.create("https://" + host + ":" + port() + signed.pathAndQuery());
    }

    /** Whether {@code uri} points at this server (a restore from one of Keel's own links). */
    boolean isOwn(URI uri) {
        String host = uri.getHost() == null ? "" : uri.getHost().replace("[", "").replace("]", "");
        boolean ours = host.equalsIgnoreCase(network.publicHost()) || host.equals(network.localHost()) || host.equals("localhost");
        synchronized (this) {
            return ours && server != null && uri.getPort() == server.getAddress().getPort();
        }
    }

    private void serve(HttpExchange exchange) throws IOException {
        // The exchange stays under the request deadline until a download begins, refusals included: closing the exchange drains
        // up to 64 KB of a request body the client announced, which it may trickle.
        try (exchange) {
            boolean head = exchange.getRequestMethod().equals("HEAD");
            if (!head && !exchange.getRequestMethod().equals("GET")) {
                answer(exchange, 405, "Only GET and HEAD.");
                return;
            }
            URI uri = exchange.getRequestURI();
            Optional<DumpLinks.Link> named = links.verify(uri.getRawPath(), uri.getRawQuery(), Instant.now());
            if (named.isEmpty()) {
                answer(exchange, 403, "This link is not valid or has expired; ask for a new one (heroku pg:backups:url).");
                return;
            }
            if (!keys.active(named.get().keyId())) {
                answer(exchange, 403, "The API key that made this link was revoked, and the link with it; ask for a new one"
                        + " (heroku pg:backups:url) with a key that is not revoked.");
                return;
            }
            Optional<Transfer> backup = transfers.find(named.get().backupId()).filter(t -> t.state() == TransferState.COMPLETED);
            if (backup.isEmpty()) {
                answer(exchange, 404, "That backup is gone.");
                return;
            }
            Optional<DownloadPlaces.Refusal> refused = places.take(backup.get());
            if (refused.isPresent()) {
                if (refused.get().retryAfterSeconds() > 0) {
                    exchange.getResponseHeaders().set("Retry-After", Integer.toString(refused.get().retryAfterSeconds()));
                }
                answer(exchange, refused.get().status(), refused.get().message());
                return;
            }
            try {
                UUID keyId = named.get().keyId();
                watch.answering(() -> keys.stillActive(keyId)); // a download: the rate rules and the key's revocation from here on
                send(exchange, head, backup.get());
            } finally {
                places.give(backup.get());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("A backup download ended early: {}", e.toString());
        }
    }

    private void send(HttpExchange exchange, boolean head, Transfer backup) throws IOException {
        DumpObjects.Stored stored = objects.open(backup);
        try (InputStream in = stored.stream()) {
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            exchange.getResponseHeaders().set("Content-Disposition", "attachment; filename=\"" + backup.name() + ".dump\"");
            exchange.getResponseHeaders().set("X-Keel-Sha256", backup.sha256());
            exchange.sendResponseHeaders(200, head ? -1 : stored.size());
            if (!head) {
                sendChecked(in, watch.watched(exchange.getResponseBody()), backup);
            }
        }
    }

    /** Sends the dump, holding the last buffer back until everything before it hashed to the recorded sha256. */
    private static void sendChecked(InputStream in, OutputStream out, Transfer backup) throws IOException {
        MessageDigest digest = Sha256.digest();
        byte[] held = new byte[BUFFER];
        int heldLength = 0;
        byte[] buffer = new byte[BUFFER];
        int n;
        while ((n = in.readNBytes(buffer, 0, buffer.length)) > 0) {
            if (heldLength > 0) {
                out.write(held, 0, heldLength);
            }
            digest.update(buffer, 0, n);
            byte[] swap = held;
            held = buffer;
            buffer = swap;
            heldLength = n;
        }
        if (!Sha256.hex(digest.digest()).equals(backup.sha256())) {
            throw new IOException("backup " + backup.name() + " does not match its sha256 in the store; the download was cut short");
        }
        out.write(held, 0, heldLength);
        out.flush();
    }

    private static void answer(HttpExchange exchange, int status, String message) throws IOException {
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
    }

    @PreDestroy
    synchronized void stop() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
            watch.close();
            asker.shutdownNow();
            server = null;
        }
    }
}
