package dev.keel.tls;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A node's requests to another node (a server's log, read where the server runs) accept only a
 * certificate of Keel's API for the host asked. The installation's CA also signs certificates for
 * databases' servers and poolers, for the same host names, whose keys sit where Postgres's and
 * PgBouncer's OS accounts read them: before, such a key could answer where a node was asked, and
 * receive the request's token. Real TLS: a JDK HTTPS server on loopback presents each certificate.
 */
@ExtendWith(SharedKeel.class)
class NodeClientTlsTest {
    private static final List<String> LOCAL = List.of("localhost", "127.0.0.1");

    @Test
    void aNodeAcceptsOnlyTheApisCertificateForTheHostItAsks(TestKeel shared) throws Exception {
        CertificateAuthority authority = shared.bean(CertificateAuthority.class);
        HttpClient nodes = authority.nodeHttpClient(Duration.ofSeconds(10));
        // The certificate the API listens with is issued marked (ApiTlsTest serves it beyond loopback, as root).
        assertThat(shared.bean(ApiTls.class).issue().chain()[0].getSubjectAlternativeNames())
                .contains(List.of(6, CertificateAuthority.API_MARK));

        try (Served api = new Served(authority, authority.issueApiCertificate(LOCAL))) {
            assertThat(nodes.send(api.get("localhost"), HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("served");
        }
        try (Served server = new Served(authority, authority.issueServerCertificate(LOCAL))) {
            assertThatThrownBy(() -> nodes.send(server.get("localhost"), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class).hasStackTraceContaining("is not one of Keel's API (it lacks urn:keel:api)");
            // Keel's other TLS client (a dump fetched by URL) trusts the same certificate: the mark is what tells them apart.
            assertThat(HttpClient.newBuilder().sslContext(authority.clientContext()).build().send(server.get("localhost"),
                    HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("served");
        }
        // The API's certificate of another host: the host name is checked before the mark.
        try (Served elsewhere = new Served(authority, authority.issueApiCertificate(List.of("node-elsewhere.invalid")))) {
            assertThatThrownBy(() -> nodes.send(elsewhere.get("localhost"), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class).hasStackTraceContaining("No subject alternative DNS name matching localhost");
        }
    }

    /** An HTTPS server on loopback that presents one certificate and answers "served". */
    private static final class Served implements AutoCloseable {
        private final HttpsServer server;

        Served(CertificateAuthority authority, ServerCertificate certificate) throws IOException {
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.setHttpsConfigurator(new HttpsConfigurator(authority.serverContext(certificate)));
            server.createContext("/", exchange -> {
                byte[] body = "served".getBytes(StandardCharsets.UTF_8);
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
                exchange.close();
            });
            server.start();
        }

        HttpRequest get(String host) {
            return HttpRequest.newBuilder(URI.create("https://" + host + ":" + server.getAddress().getPort() + "/"))
                    .timeout(Duration.ofSeconds(10)).GET().build();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
