package dev.keel.dumps;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsServer;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.tls.CertificateAuthority;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A restore's URL is fetched from the address Keel checked, and from no other: a DNS server that
 * answers a public address to the check and loopback to the connection (rebinding) must not make
 * Keel reach its own network. The hostile DNS server is a resolver that answers a public address
 * to its first question and 127.0.0.1 to every later one, for {@code localhost}, so that a fetch
 * that asked the system again (as the JDK's HTTP client did) would reach the listener on loopback,
 * which counts every connection. The pinned request itself is checked against a real HTTPS server
 * on loopback: it names the URL's host in SNI, in the certificate check and in the Host header.
 */
@ExtendWith(SharedKeel.class)
class DumpUrlPinningTest {
    private static final InetAddress PUBLIC = address("93.184.216.34");
    /** A public address (IPv6 documentation prefix) that nothing answers on. */
    private static final InetAddress UNREACHABLE = address("2001:db8::1");
    /** The header deadline of the trickle tests' DumpUrls (Keel's is a minute). */
    private static final Duration HEAD_DEADLINE = Duration.ofSeconds(1);

    @Test
    void aHostThatRebindsToLoopbackAfterItsCheckIsRefusedBeforeAnyConnection(TestKeel keel) throws Exception {
        try (Listener loopback = new Listener()) {
            Rebinding dns = new Rebinding(PUBLIC);
            DumpUrls urls = new DumpUrls(keel.bean(CertificateAuthority.class), keel.bean(DumpDownloadServer.class), dns);
            URI url = urls.check("https://localhost:" + loopback.port() + "/latest.dump");

            Throwable refused = catchThrowable(() -> urls.fetch(url));

            assertThat(loopback.accepted()).as("connections to loopback").isZero();
            assertThat(refused).as("the fetch is refused").isInstanceOf(KeelException.class);
            assertThat(((KeelException) refused).type()).isEqualTo(ProblemType.INVALID_REQUEST);
            assertThat(refused.getMessage()).isEqualTo("localhost is 127.0.0.1, an internal address; Keel restores only from public"
                    + " https URLs and from its own backup URLs.");
            assertThat(dns.asked()).as("questions: the check's and the fetch's").isEqualTo(2);
        }
    }

    @Test
    void aHostResolvedToAnIpv4MappedLoopbackAddressIsRefused(TestKeel keel) throws Exception {
        byte[] mapped = new byte[16];
        mapped[10] = (byte) 0xff;
        mapped[11] = (byte) 0xff;
        mapped[12] = 127;
        mapped[15] = 1;
        InetAddress answer = Inet6Address.getByAddress(null, mapped, -1); // ::ffff:127.0.0.1, which a connect reaches
        try (Listener loopback = new Listener()) {
            DumpUrls urls = new DumpUrls(keel.bean(CertificateAuthority.class), keel.bean(DumpDownloadServer.class),
                    host -> new InetAddress[] {answer});

            Throwable refused = catchThrowable(() -> urls.fetch(URI.create("https://localhost:" + loopback.port() + "/latest.dump")));

            assertThat(refused).as("the fetch is refused").isInstanceOf(KeelException.class);
            assertThat(((KeelException) refused).type()).isEqualTo(ProblemType.INVALID_REQUEST);
            assertThat(refused.getMessage()).isEqualTo("localhost is " + answer.getHostAddress() + ", an internal address; Keel restores"
                    + " only from public https URLs and from its own backup URLs.");
            assertThat(loopback.accepted()).as("connections to loopback").isZero();
        }
    }

    @Test
    void aFetchConnectsToTheAddressItResolvedAndCheckedOnly(TestKeel keel) throws Exception {
        try (Listener loopback = new Listener()) {
            Rebinding dns = new Rebinding(UNREACHABLE);
            DumpUrls urls = new DumpUrls(keel.bean(CertificateAuthority.class), keel.bean(DumpDownloadServer.class), dns);

            Throwable failed = catchThrowable(() -> urls.fetch(URI.create("https://localhost:" + loopback.port() + "/latest.dump")));

            assertThat(loopback.accepted()).as("connections to loopback").isZero();
            assertThat(failed).as("the fetch fails to connect").isInstanceOf(KeelException.class);
            assertThat(((KeelException) failed).type()).isEqualTo(ProblemType.UNAVAILABLE);
            assertThat(failed.getMessage()).startsWith("Keel could not connect to localhost (2001:db8:0:0:0:0:0:1) on port "
                    + loopback.port() + ": ");
            assertThat(dns.asked()).as("the host is resolved once").isEqualTo(1);
        }
    }

    @Test
    void aPinnedRequestNamesTheUrlsHostInTlsAndHttp(TestKeel keel) throws Exception {
        CertificateAuthority authority = keel.bean(CertificateAuthority.class);
        DumpUrls urls = new DumpUrls(authority, keel.bean(DumpDownloadServer.class), host -> {
            throw new AssertionError("a pinned request resolves nothing; asked for " + host);
        });
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (Served dumps = new Served(authority, "dumps.example")) {
            String base = "https://dumps.example:" + dumps.port();

            DumpUrls.Response fixed = urls.get(URI.create(base + "/fixed.dump?signature=a%2Fb"), loopback);
            assertThat(fixed.status()).isEqualTo(200);
            try (InputStream body = fixed.body()) {
                assertThat(new String(body.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("a dump of known length");
            }
            assertThat(dumps.seen).containsEntry("sni", "dumps.example").containsEntry("host", "dumps.example:" + dumps.port())
                    .containsEntry("target", "/fixed.dump?signature=a%2Fb");

            // Characters outside ASCII go in the request as UTF-8, percent-encoded.
            DumpUrls.Response unicode = urls.get(URI.create(base + "/d\u00fcmp.dump?name=\u00e9t\u00e9"), loopback);
            assertThat(unicode.status()).isEqualTo(200);
            unicode.body().close();
            assertThat(dumps.seen).containsEntry("target", "/d%C3%BCmp.dump?name=%C3%A9t%C3%A9");

            // A fully qualified name (trailing dot): SNI and the certificate check name the host without it.
            dumps.seen.clear();
            DumpUrls.Response qualified = urls.get(URI.create("https://dumps.example.:" + dumps.port() + "/fixed.dump"), loopback);
            assertThat(qualified.status()).isEqualTo(200);
            qualified.body().close();
            assertThat(dumps.seen).containsEntry("sni", "dumps.example").containsEntry("host", "dumps.example.:" + dumps.port());

            DumpUrls.Response chunked = urls.get(URI.create(base + "/chunked.dump"), loopback);
            assertThat(chunked.headers()).containsEntry("transfer-encoding", "chunked");
            try (InputStream body = chunked.body()) {
                assertThat(body.readAllBytes()).hasSize(3 * 70_000);
            }
        }
        // The certificate is checked against the URL's host, though the connection went to an address.
        try (Served elsewhere = new Served(authority, "elsewhere.invalid")) {
            SSLHandshakeException wrongHost = catchThrowableOfType(SSLHandshakeException.class,
                    () -> urls.get(URI.create("https://dumps.example:" + elsewhere.port() + "/fixed.dump"), loopback));
            assertThat(wrongHost).as("a certificate of another host is refused").isNotNull();
            assertThat(wrongHost).hasStackTraceContaining("No subject alternative DNS name matching dumps.example");
            assertThat(elsewhere.seen).as("no request was sent").doesNotContainKey("target");
        }
    }

    @ParameterizedTest(name = "a record trickled {0}")
    @EnumSource(Trickler.When.class)
    void aServerTricklingATlsRecordIsCutAtTheHeadersDeadline(Trickler.When when, TestKeel keel) throws Exception {
        CertificateAuthority authority = keel.bean(CertificateAuthority.class);
        DumpUrls urls = new DumpUrls(authority, keel.bean(DumpDownloadServer.class), host -> {
            throw new AssertionError("a pinned request resolves nothing; asked for " + host);
        }, HEAD_DEADLINE);
        ExecutorService fetcher = Executors.newSingleThreadExecutor();
        try (Trickler server = new Trickler(authority, when)) {
            long start = System.nanoTime();
            Future<DumpUrls.Response> got = fetcher.submit(
                    () -> urls.get(URI.create("https://dumps.example:" + server.port() + "/slow.dump"), InetAddress.getLoopbackAddress()));

            ExecutionException failed = catchThrowableOfType(ExecutionException.class,
                    () -> got.get(HEAD_DEADLINE.plus(Timeouts.PAST_HEAD_DEADLINE).toMillis(), TimeUnit.MILLISECONDS));

            assertThat(failed).as("the GET fails (rather than waiting for the trickle)").isNotNull();
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not before the deadline").isGreaterThanOrEqualTo(HEAD_DEADLINE);
            assertThat(failed.getCause()).isInstanceOf(KeelException.class);
            assertThat(((KeelException) failed.getCause()).type()).isEqualTo(ProblemType.UNAVAILABLE);
            assertThat(failed.getCause().getMessage()).isEqualTo("The server of dumps.example did not answer within 1 s; check the URL,"
                    + " or restore again once it answers.");
            assertThat(server.trickled()).as("bytes trickled before the cut").isGreaterThan(1);
        } finally {
            fetcher.shutdownNow();
        }
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A rebinding DNS server: {@code first} to its first question, 127.0.0.1 to every later one. */
    private static final class Rebinding implements DumpUrls.Resolver {
        private final InetAddress first;
        private final AtomicInteger asked = new AtomicInteger();

        Rebinding(InetAddress first) {
            this.first = first;
        }

        @Override
        public InetAddress[] resolve(String host) {
            assertThat(host).isEqualTo("localhost");
            return new InetAddress[] {asked.getAndIncrement() == 0 ? first : address("127.0.0.1")};
        }

        int asked() {
            return asked.get();
        }
    }

    /** A listener on 127.0.0.1 that counts the connections it accepts and closes each at once. */
    private static final class Listener implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 50, address("127.0.0.1"));
        private final AtomicInteger accepted = new AtomicInteger();
        private final Thread acceptor;

        Listener() throws IOException {
            acceptor = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket ignored = socket.accept()) {
                        accepted.incrementAndGet(); // counted before the close the client sees
                    } catch (IOException e) {
                        // closed
                    }
                }
            }, "rebinding-target");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        @Override
        public void close() throws Exception {
            socket.close();
            acceptor.join();
        }
    }

    /**
     * A hostile server on loopback that starts a TLS record (16 KB long, by its header) and sends
     * its bytes one every 100 ms, each well within any read timeout: in the handshake (in place of
     * its ServerHello) or after it (in place of its answer to the GET).
     */
    private static final class Trickler implements AutoCloseable {
        enum When { IN_THE_HANDSHAKE, AFTER_THE_HANDSHAKE }

        private final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final AtomicInteger trickled = new AtomicInteger();
        private final Thread serving;
        private volatile Socket accepted;

        Trickler(CertificateAuthority authority, When when) throws IOException {
            serving = new Thread(() -> {
                try (Socket plain = listener.accept()) {
                    accepted = plain;
                    byte type = 0x16; // handshake
                    if (when == When.IN_THE_HANDSHAKE) {
                        plain.getInputStream().read(new byte[16 * 1024]); // the ClientHello's start
                    } else {
                        SSLSocket tls = (SSLSocket) authority.serverContext(List.of("dumps.example")).getSocketFactory()
                                .createSocket(plain, null, plain.getPort(), false);
                        tls.setUseClientMode(false);
                        tls.startHandshake();
                        tls.getInputStream().read(new byte[16 * 1024]); // the GET
                        type = 0x17; // application data
                    }
                    OutputStream out = plain.getOutputStream();
                    out.write(new byte[] {type, 0x03, 0x03, 0x40, 0x00});
                    out.flush();
                    while (true) {
                        Thread.sleep(100); // the hostile server's pace, not a wait of the test's
                        out.write(0);
                        out.flush();
                        trickled.incrementAndGet();
                    }
                } catch (IOException | InterruptedException e) {
                    // the client went, or the test ended
                }
            }, "tls-trickler");
            serving.setDaemon(true);
            serving.start();
        }

        int port() {
            return listener.getLocalPort();
        }

        int trickled() {
            return trickled.get();
        }

        @Override
        public void close() throws Exception {
            listener.close();
            Socket connection = accepted;
            if (connection != null) {
                connection.close();
            }
            serving.interrupt();
            serving.join();
        }
    }

    /** An HTTPS server on loopback with a certificate for one host name; it notes the SNI, Host and target it was sent. */
    private static final class Served implements AutoCloseable {
        private final HttpsServer server;
        final Map<String, String> seen = new ConcurrentHashMap<>();

        Served(CertificateAuthority authority, String host) throws IOException {
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.setHttpsConfigurator(new HttpsConfigurator(authority.serverContext(List.of(host))));
            server.createContext("/", exchange -> {
                try (exchange) {
                    ((ExtendedSSLSession) ((HttpsExchange) exchange).getSSLSession()).getRequestedServerNames()
                            .forEach(name -> seen.put("sni", ((SNIHostName) name).getAsciiName()));
                    seen.put("host", exchange.getRequestHeaders().getFirst("Host"));
                    seen.put("target", exchange.getRequestURI().toString());
                    if (exchange.getRequestURI().getPath().equals("/chunked.dump")) {
                        exchange.sendResponseHeaders(200, 0); // no length: the JDK's server sends chunks
                        try (OutputStream body = exchange.getResponseBody()) {
                            for (int i = 0; i < 3; i++) {
                                body.write(new byte[70_000]);
                                body.flush();
                            }
                        }
                    } else {
                        byte[] body = "a dump of known length".getBytes(StandardCharsets.UTF_8);
                        exchange.sendResponseHeaders(200, body.length);
                        exchange.getResponseBody().write(body);
                    }
                }
            });
            server.start();
        }

        int port() {
            return server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
