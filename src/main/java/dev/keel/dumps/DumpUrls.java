package dev.keel.dumps;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.tls.CertificateAuthority;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;

import java.io.IOException;
import java.io.InputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;

/**
 * Fetching a dump by URL for a restore: https only (verified against the JDK's certificate
 * authorities and Keel's own), and never from a loopback, private, link-local or otherwise
 * internal address, which would let a tenant make Keel reach what only Keel can (its catalog,
 * its object store), except Keel's own signed backup URLs. Redirects are followed a few times,
 * each target checked the same way.
 */
@Singleton
final class DumpUrls {
    private static final int MAX_REDIRECTS = 5;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** How long a server may take to answer with its headers. */
    private static final Duration HEADERS_TIMEOUT = Duration.ofSeconds(60);
    /** How long a read of the dump may wait for a byte. */
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(120);

    private final CertificateAuthority authority;
    private final DumpDownloadServer downloads;
    private volatile HttpClient client;

    DumpUrls(CertificateAuthority authority, DumpDownloadServer downloads) {
        this.authority = authority;
        this.downloads = downloads;
    }

    /** A response body being read, and its length when the server said. */
    record Fetched(InputStream stream, @Nullable Long size) {
    }

    /** The URL, if Keel may fetch it; a 422 saying why not otherwise. */
    URI check(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw invalid("'" + text + "' is not a URL.");
        }
        if (!"https".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            throw invalid("Keel fetches dumps over https only; give an https:// URL of a pg_dump -Fc file.");
        }
        if (downloads.isOwn(uri)) {
            return uri;
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(uri.getHost());
        } catch (UnknownHostException e) {
            throw invalid("The host of " + uri.getHost() + " cannot be resolved; check the URL.");
        }
        for (InetAddress address : addresses) {
            if (internal(address)) {
                throw invalid(uri.getHost() + " is " + address.getHostAddress() + ", an internal address; Keel restores only from"
                        + " public https URLs and from its own backup URLs.");
            }
        }
        return uri;
    }

    Fetched fetch(URI start) throws IOException {
        URI uri = start;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<InputStream> response;
            try {
                // Bounded: a server that never answers, or stops sending, must not hold an operation thread (of every team's) for good.
                response = client().send(HttpRequest.newBuilder(uri).timeout(HEADERS_TIMEOUT).GET().build(),
                        HttpResponse.BodyHandlers.ofInputStream());
            } catch (HttpTimeoutException e) {
                throw new KeelException(ProblemType.UNAVAILABLE, "The server of " + uri.getHost() + " did not answer within "
                        + HEADERS_TIMEOUT.toSeconds() + " s; check the URL, or restore again once it answers.");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted fetching " + uri.getHost(), e);
            }
            int status = response.statusCode();
            Optional<String> location = response.headers().firstValue("Location");
            if (status >= 300 && status < 400 && location.isPresent()) {
                response.body().close();
                uri = check(uri.resolve(location.get()).toString());
                continue;
            }
            if (status != 200) {
                response.body().close();
                throw new KeelException(ProblemType.UNAVAILABLE, "Fetching the dump from " + uri.getHost() + " answered HTTP " + status
                        + "; check that the URL is current (signed URLs expire).");
            }
            Long size = response.headers().firstValueAsLong("Content-Length").stream().boxed().findFirst().orElse(null);
            return new Fetched(new IdleDeadlineInputStream(response.body(), IDLE_TIMEOUT), size);
        }
        throw new KeelException(ProblemType.UNAVAILABLE, "Fetching the dump was redirected more than " + MAX_REDIRECTS + " times.");
    }

    private HttpClient client() {
        HttpClient made = client;
        if (made == null) {
            made = authority.httpClient(CONNECT_TIMEOUT);
            client = made;
        }
        return made;
    }

    static boolean internal(InetAddress address) {
        byte[] bytes = address.getAddress();
        if (bytes.length == 16 && embedsIpv4(bytes)) {
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach an IPv4 address: judged as that address.
            int at = (bytes[0] & 0xff) == 0x20 ? 2 : 12;
            try {
                return internal(InetAddress.getByAddress(Arrays.copyOfRange(bytes, at, at + 4)));
            } catch (UnknownHostException e) {
                return true;
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

    private static boolean embedsIpv4(byte[] v6) {
        boolean nat64 = (v6[0] & 0xff) == 0x00 && (v6[1] & 0xff) == 0x64 && (v6[2] & 0xff) == 0xff && (v6[3] & 0xff) == 0x9b
                && Arrays.equals(Arrays.copyOfRange(v6, 4, 12), new byte[8]);
        boolean sixToFour = (v6[0] & 0xff) == 0x20 && (v6[1] & 0xff) == 0x02;
        return nat64 || sixToFour;
    }

    private static KeelException invalid(String message) {
        return new KeelException(ProblemType.INVALID_REQUEST, message);
    }
}
