package dev.keel.dumps;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fetching a dump by URL for a restore: https only (verified against the JDK's certificate
 * authorities and Keel's own), and never from a loopback, private, link-local or otherwise
 * internal address, which would let a tenant make Keel reach what only Keel can (its catalog,
 * its object store), except Keel's own signed backup URLs. A host is resolved once per request:
 * every address it has is checked, and the connection goes to the checked address itself (its
 * certificate, SNI and Host header still name the host), so a DNS server that answers a public
 * address to the check and an internal one to the connection (rebinding) gets nowhere. The GET
 * is Keel's own HTTP/1.1 over that socket because the JDK's HTTP client resolves names itself.
 * Redirects are followed a few times, each target resolved, checked and pinned the same way.
 */
@Singleton
final class DumpUrls {
    private static final int MAX_REDIRECTS = 5;
    private static final int HTTPS_PORT = 443;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** How long a server may take to answer with its headers, from the connect on, the TLS handshake included. */
    static final Duration HEADERS_TIMEOUT = Duration.ofSeconds(60);
    /** How long a read of the dump may wait for a byte. */
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(120);

    /** How a host name becomes its addresses: the system's resolver; a test answers as a rebinding DNS server would. */
    interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    private final CertificateAuthority authority;
    private final DumpDownloadServer downloads;
    private final Resolver resolver;
    private final Duration headersTimeout;
    private volatile SSLContext tls;

    @Inject
    DumpUrls(CertificateAuthority authority, DumpDownloadServer downloads) {
        this(authority, downloads, InetAddress::getAllByName);
    }

    DumpUrls(CertificateAuthority authority, DumpDownloadServer downloads, Resolver resolver) {
        this(authority, downloads, resolver, HEADERS_TIMEOUT);
    }

    /** As Keel runs, but with {@code headersTimeout} for {@link #HEADERS_TIMEOUT}: a test's trickling server need not take a minute. */
    DumpUrls(CertificateAuthority authority, DumpDownloadServer downloads, Resolver resolver, Duration headersTimeout) {
        this.authority = authority;
        this.downloads = downloads;
        this.resolver = resolver;
        this.headersTimeout = headersTimeout;
    }

    /** A response body being read, and its length when the server said. */
    record Fetched(InputStream stream, @Nullable Long size) {
    }

    /** A response's status, its headers (names in lower case, the first of each), and its body, open until closed. */
    record Response(int status, Map<String, String> headers, InputStream body) {
    }

    /** The URL, if Keel may fetch it; a 422 saying why not otherwise. The fetch checks its host again, as it connects. */
    URI check(String text) {
        URI uri = parse(text);
        pin(uri);
        return uri;
    }

    private static URI parse(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw invalid("'" + text + "' is not a URL.");
        }
        if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            throw invalid("Keel fetches dumps over https only; give an https:// URL of a pg_dump -Fc file.");
        }
        return uri;
    }

    /**
     * The address a request for {@code uri} connects to: its host resolved once, and refused (422)
     * if any of its addresses is internal, unless the URL is one of Keel's own download links.
     */
    private InetAddress pin(URI uri) {
        String host = host(uri);
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(host);
        } catch (UnknownHostException e) {
            throw invalid("The host of " + host + " cannot be resolved; check the URL.");
        }
        if (addresses.length == 0) {
            throw invalid("The host of " + host + " cannot be resolved; check the URL.");
        }
        if (!downloads.isOwn(uri)) {
            for (InetAddress address : addresses) {
                if (internal(address)) {
                    throw invalid(host + " is " + address.getHostAddress() + ", an internal address; Keel restores only from"
                            + " public https URLs and from its own backup URLs.");
                }
            }
        }
        return addresses[0];
    }

    Fetched fetch(URI start) throws IOException {
        URI uri = start;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            Response response = get(uri, pin(uri));
            int status = response.status();
            String location = response.headers().get("location");
            if (status >= 300 && status < 400 && location != null) {
                response.body().close();
                uri = redirected(uri, location);
                continue;
            }
            if (status != 200) {
                response.body().close();
                throw new KeelException(ProblemType.UNAVAILABLE, "Fetching the dump from " + uri.getHost() + " answered HTTP " + status
                        + "; check that the URL is current (signed URLs expire).");
            }
            Long size = response.headers().containsKey("transfer-encoding") ? null : HttpFraming.length(response.headers().get("content-length"));
            return new Fetched(new IdleDeadlineInputStream(response.body(), IDLE_TIMEOUT), size);
        }
        throw new KeelException(ProblemType.UNAVAILABLE, "Fetching the dump was redirected more than " + MAX_REDIRECTS + " times.");
    }

    /** Where a redirect from {@code uri} leads, if Keel may fetch it (422 otherwise); a Location that is no URL is the server's fault (503). */
    static URI redirected(URI uri, String location) {
        URI target;
        try {
            target = uri.resolve(location.strip());
        } catch (IllegalArgumentException e) {
            throw new KeelException(ProblemType.UNAVAILABLE, "The server of " + uri.getHost()
                    + " redirected to a malformed URL; check the URL.");
        }
        return parse(target.toString());
    }

    /**
     * One GET of {@code uri} over a TLS connection to {@code address} and nowhere else, whatever
     * the host's name resolves to now: SNI, the certificate's host name check and the Host header
     * are those of the URL's host. Bounded: a server that never answers, or answers slowly, must
     * not hold an operation thread (of every team's) for good; the body's reads are bounded by
     * the caller.
     */
    Response get(URI uri, InetAddress address) throws IOException {
        String host = host(uri);
        int port = uri.getPort() < 0 ? HTTPS_PORT : uri.getPort();
        Socket plain = new Socket();
        HeadDeadline deadline = new HeadDeadline(plain, headersTimeout);
        try {
            try {
                plain.connect(new InetSocketAddress(address, port), (int) CONNECT_TIMEOUT.toMillis());
            } catch (IOException e) {
                if (deadline.expired()) {
                    throw e;
                }
                throw new KeelException(ProblemType.UNAVAILABLE, "Keel could not connect to " + host + " (" + address.getHostAddress()
                        + ") on port " + port + ": " + e.getMessage() + "; check the URL, or restore again once it answers.");
            }
            SSLSocket socket = (SSLSocket) context().getSocketFactory().createSocket(plain, host, port, true);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS"); // SNI is the factory's: the host, no trailing dot, never a literal
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            URI ascii = URI.create(uri.toASCIIString()); // a path's other characters percent-encoded as UTF-8, as a browser sends them
            String target = (ascii.getRawPath() == null || ascii.getRawPath().isEmpty() ? "/" : ascii.getRawPath())
                    + (ascii.getRawQuery() == null ? "" : "?" + ascii.getRawQuery());
            String hostHeader = (host.contains(":") ? "[" + host + "]" : host) + (uri.getPort() < 0 ? "" : ":" + uri.getPort());
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + target + " HTTP/1.1\r\nHost: " + hostHeader + "\r\nUser-Agent: Keel\r\nAccept: */*\r\n"
                    + "Accept-Encoding: identity\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream connection = new FilterInputStream(socket.getInputStream()) {
                @Override
                public void close() throws IOException {
                    plain.close(); // the body's close ends the connection, whatever the TLS layer does
                }
            };
            Response response = HttpFraming.read(new BufferedInputStream(connection), host);
            if (!deadline.disarm()) {
                throw new SocketException("the headers' deadline closed the connection as they ended");
            }
            return response;
        } catch (IOException | RuntimeException e) {
            deadline.disarm();
            plain.close();
            if (deadline.expired()) {
                throw new KeelException(ProblemType.UNAVAILABLE, "The server of " + host + " did not answer within "
                        + headersTimeout.toSeconds() + " s; check the URL, or restore again once it answers.");
            }
            throw e;
        }
    }

    /**
     * The deadline of a connection's TLS handshake and response head: a deadline, not a read
     * timeout, which a server trickling its TLS records or its headers a byte at a time would
     * renew at every byte. At the deadline the plain socket is closed, which ends whatever read
     * is blocked on it, the handshake's included; once disarmed (the head read), it never is.
     */
    private static final class HeadDeadline {
        private static final int ARMED = 0;
        private static final int DISARMED = 1;
        private static final int EXPIRED = 2;
        private final AtomicInteger state = new AtomicInteger(ARMED);
        private final ScheduledFuture<?> timer;

        HeadDeadline(Socket connection, Duration timeout) {
            timer = Watchdogs.after(timeout, () -> {
                if (state.compareAndSet(ARMED, EXPIRED)) {
                    try {
                        connection.close();
                    } catch (IOException e) {
                        // the blocked read fails either way
                    }
                }
            });
        }

        /** True if the deadline had not passed: the connection is the caller's, and stays open. */
        boolean disarm() {
            timer.cancel(false);
            return state.compareAndSet(ARMED, DISARMED) || state.get() == DISARMED;
        }

        boolean expired() {
            return state.get() == EXPIRED;
        }
    }

    private SSLContext context() {
        SSLContext made = tls;
        if (made == null) {
            made = authority.clientContext();
            tls = made;
        }
        return made;
    }

    /** The URL's host as resolved and named in TLS: an IPv6 literal without its brackets. */
    private static String host(URI uri) {
        return uri.getHost().replace("[", "").replace("]", "");
    }

    static boolean internal(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (bytes.length == 16) {
            byte[] v4 = embeddedIpv4(bytes);
            if (v4 != null) {
                try {
                    return internal(InetAddress.getByAddress(v4)); // judged as the IPv4 address it reaches
                } catch (UnknownHostException e) {
                    return true;
                }
            }
            if (startsWith(bytes, 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01)) {
                return true; // local-use NAT64 (64:ff9b:1::/48): where it leads, and where its IPv4 address sits, is the local network's choice
            }
        }
        boolean uniqueLocal = address instanceof Inet6Address && (bytes[0] & 0xfe) == 0xfc;
        int first = bytes[0] & 0xff;
        int second = bytes[1] & 0xff;
        boolean reservedV4 = bytes.length == 4 && (first == 0 || first == 100 && (second & 0xc0) == 64 // this network, shared (CGN)
                || first == 192 && second == 0 && (bytes[2] & 0xff) == 0 // IETF protocol assignments
                || first == 198 && (second & 0xfe) == 18 // benchmarking
                || first >= 240); // reserved, and the broadcast address
        return address.isLoopbackAddress() || address.isSiteLocalAddress() || address.isLinkLocalAddress() || address.isAnyLocalAddress()
                || address.isMulticastAddress() || uniqueLocal || reservedV4;
    }

    /**
     * The IPv4 address an IPv6 address reaches, or null: a resolver may answer these in 16 bytes
     * (Java unmaps only the literals it parses), and a socket connected to ::ffff:127.0.0.1 reaches
     * 127.0.0.1. IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96, :: and ::1 included, whose
     * 0.0.0.0 and 0.0.0.1 are internal too) and NAT64 (64:ff9b::/96) carry it in their last 32 bits;
     * 6to4 (2002::/16) after its prefix; Teredo (2001::/32) carries its client's, inverted, last.
     */
    @Nullable
    private static byte[] embeddedIpv4(byte[] v6) {
        byte[] last = Arrays.copyOfRange(v6, 12, 16);
        if (startsWith(v6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff) || startsWith(v6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                || startsWith(v6, 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0)) {
            return last;
        }
        if (startsWith(v6, 0x20, 0x02)) {
            return Arrays.copyOfRange(v6, 2, 6);
        }
        if (startsWith(v6, 0x20, 0x01, 0x00, 0x00)) {
            for (int i = 0; i < last.length; i++) {
                last[i] = (byte) ~last[i];
            }
            return last;
        }
        return null;
    }

    private static boolean startsWith(byte[] bytes, int... prefix) {
        for (int i = 0; i < prefix.length; i++) {
            if ((bytes[i] & 0xff) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static KeelException invalid(String message) {
        return new KeelException(ProblemType.INVALID_REQUEST, message);
    }
}
