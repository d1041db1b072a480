package dev.keel.logs;

import dev.keel.credentials.Secrets;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.instances.InstanceRuntime;
import dev.keel.instances.LogSource;
import dev.keel.instances.ServerLog;
import dev.keel.instances.ServerLogs;
import dev.keel.nodes.Nodes;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A server's log wherever the server runs. A log on this node is read from its file; a log on
 * another node is read from that node's API, a bounded range at a time ({@link ServerLogReadController}):
 * the range is asked for with a token sealed by the installation's secret key, which every node
 * shares and no client has, so that only a node can ask, only for that range of that server, and
 * only for {@link #VALID_FOR} (node clocks must agree within it). The token travels in a request
 * header, never in a path that logs keep. Between hosts the API is HTTPS, verified against the
 * installation's CA alone, and only the API's own certificate is accepted
 * ({@code CertificateAuthority.nodeHttpClient}); plain HTTP only on this machine's loopback. The
 * catalog carries no log: logs are large and read as they grow, which is what the API's HTTP
 * already does well.
 */
@Singleton
public final class HostedLogs {
    private static final Logger LOG = LoggerFactory.getLogger(HostedLogs.class);
    static final String CONTEXT = "server-log-read";
    static final Duration VALID_FOR = Duration.ofMinutes(1);
    static final String SIZE_HEADER = "Keel-Log-Size";
    /** The request header that carries the token: not the path, which logs and proxies keep. */
    static final String TOKEN_HEADER = "Keel-Log-Read";
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final ServerLog serverLog;
    private final InstanceRepository instances;
    private final Nodes nodes;
    private final ThisNode node;
    private final Secrets secrets;
    private final CertificateAuthority authority;
    private volatile HttpClient client;

    HostedLogs(ServerLog serverLog, InstanceRepository instances, Nodes nodes, ThisNode node, Secrets secrets,
               CertificateAuthority authority) {
        this.serverLog = serverLog;
        this.instances = instances;
        this.nodes = nodes;
        this.node = node;
        this.secrets = secrets;
        this.authority = authority;
    }

    /** Where {@code instance}'s log is read from: its file here, or the API of the node that hosts it. */
    public LogSource of(Instance instance) {
        String host = instance.node();
        if (host == null || host.equals(node.name())) {
            return serverLog.local(instance);
        }
        URI address = nodes.address(host).map(HostedLogs::checked).orElseThrow(() -> unavailable(host));
        return (offset, length) -> fetch(host, address, instance.id(), offset, length);
    }

    /** A node's API address, read over HTTPS unless it is on this machine's loopback; null otherwise. */
    private static URI checked(String address) {
        URI uri = URI.create(address + ServerLogReadController.PATH);
        try {
            boolean loopback = uri.getHost() != null && InetAddress.getByName(uri.getHost()).isLoopbackAddress();
            return "https".equals(uri.getScheme()) || loopback && "http".equals(uri.getScheme()) ? uri : null;
        } catch (UnknownHostException e) {
            return "https".equals(uri.getScheme()) ? uri : null;
        }
    }

    /** A range asked of another node: which server, from where, how much, until when. */
    record Range(UUID instance, long offset, int length, Instant expiresAt) {
    }

    /** The token that asks a node for {@code length} bytes of {@code instance}'s log from {@code offset} on, for {@link #VALID_FOR}. */
    public String token(UUID instance, long offset, int length) {
        return secrets.sealToken(CONTEXT, "1", instance.toString(), Long.toString(offset), Integer.toString(length),
                Long.toString(Instant.now().plus(VALID_FOR).getEpochSecond()));
    }

    /** The range a token asks for; empty when it was altered, not sealed with this installation's key, or is stale. */
    Optional<Range> open(String token) {
        List<String> parts = secrets.openToken(token, CONTEXT).orElse(List.of());
        if (parts.size() != 5 || !parts.get(0).equals("1")) {
            return Optional.empty();
        }
        try {
            Range range = new Range(UUID.fromString(parts.get(1)), Long.parseLong(parts.get(2)), Integer.parseInt(parts.get(3)),
                    Instant.ofEpochSecond(Long.parseLong(parts.get(4))));
            return range.expiresAt().isAfter(Instant.now()) && range.offset() >= 0 && range.length() >= 0 ? Optional.of(range)
                    : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Reads a range of the log of a server this node hosts (empty when it hosts no such server), at most {@link ServerLogs#MAX_BYTES}. */
    Optional<InstanceRuntime.LogBytes> readHere(Range range) {
        return instances.hostedHere().stream().filter(i -> i.id().equals(range.instance())).findFirst()
                .map(i -> serverLog.local(i).read(range.offset(), Math.min(range.length(), ServerLogs.MAX_BYTES)));
    }

    private InstanceRuntime.LogBytes fetch(String host, URI address, UUID instance, long offset, int length) {
        HttpRequest request = HttpRequest.newBuilder(address).header(TOKEN_HEADER, token(instance, offset, length)).timeout(TIMEOUT).GET()
                .build();
        try {
            HttpResponse<InputStream> response = client().send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                long size = response.headers().firstValueAsLong(SIZE_HEADER).orElse(-1);
                if (response.statusCode() != 200 || size < 0) {
                    LOG.warn("Reading the log of instance {} from node {} ({}) answered HTTP {}", instance, host, address, response.statusCode());
                    throw unavailable(host);
                }
                // Never more than was asked for is kept, whatever the other side sends.
                byte[] bytes = body.readNBytes(Math.max(0, length) + 1);
                if (bytes.length > length) {
                    LOG.warn("Reading the log of instance {} from node {} ({}) answered more than the {} bytes asked for", instance, host,
                            address, length);
                    throw unavailable(host);
                }
                return new InstanceRuntime.LogBytes(bytes, size);
            }
        } catch (NumberFormatException | IOException e) {
            LOG.warn("Reading the log of instance {} from node {} ({}) failed: {}", instance, host, address, e.toString());
            throw unavailable(host);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable(host);
        }
    }

    private static KeelException unavailable(String host) {
        return new KeelException(ProblemType.UNAVAILABLE, "The server's log is on node " + host + ", which hosts the server and cannot"
                + " be read from now (Keel's log says why); try again once it is back.");
    }

    private HttpClient client() {
        HttpClient made = client;
        if (made == null) {
            made = authority.nodeHttpClient(TIMEOUT);
            client = made;
        }
        return made;
    }
}
