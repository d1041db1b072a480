package dev.keel.tls;

import dev.keel.Network;
import dev.keel.RandomStrings;
import io.micronaut.context.annotation.Value;
import io.micronaut.core.async.publisher.Publishers;
import io.micronaut.http.server.netty.ssl.ServerSslBuilder;
import io.micronaut.http.ssl.CertificateProvider;
import io.micronaut.http.ssl.ServerSslConfiguration;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import jakarta.inject.Named;
import jakarta.inject.Singleton;
import org.reactivestreams.Publisher;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The API's TLS: off while Keel listens on loopback only; when {@code KEEL_BIND} is any other
 * address, the API listens only for HTTPS, on the same port, with a certificate the installation
 * CA issues at each start for the public host and the bind address. It is the server's
 * {@link ServerSslBuilder}, and the named {@link CertificateProvider} its listener loads the key
 * from once the CA is loaded (Keel's start does that before the server starts).
 */
@Singleton
@Named(ApiTls.NAME)
final class ApiTls implements ServerSslBuilder, CertificateProvider {
    static final String NAME = "keel-api";

    private final Network network;
    private final CertificateAuthority authority;
    private final ServerSslConfiguration configuration = new ServerSslConfiguration();
    /** Locks the key inside the in-memory key store only; never written anywhere. */
    private final String password = RandomStrings.alphanumeric(32);

    ApiTls(Network network, CertificateAuthority authority, @Value("${micronaut.server.port}") int port) {
        this.network = network;
        this.authority = authority;
        configuration.setEnabled(network.apiTls());
        configuration.setPort(port);
        configuration.setKeyName(NAME);
        configuration.getKey().setPassword(password);
    }

    @Override
    public ServerSslConfiguration getSslConfiguration() {
        return configuration;
    }

    @Override
    public Optional<SslContext> build() {
        if (!configuration.isEnabled()) {
            return Optional.empty();
        }
        Issued issued = issue();
        try {
            return Optional.of(SslContextBuilder.forServer(issued.key(), issued.chain()).build());
        } catch (SSLException e) {
            throw new IllegalStateException("could not set up the API's TLS", e);
        }
    }

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public Publisher<KeyStore> getKeyStore() {
        return Publishers.map(Publishers.just(NAME), name -> keyStore());
    }

    /**
     * The names the API's certificate is valid for: the public host, the bind address unless it is
     * a wildcard, and localhost, for clients that reach Keel through a tunnel (the Heroku CLI talks
     * to no other host than heroku.com's and localhost).
     */
    List<String> hosts() {
        List<String> hosts = new ArrayList<>(List.of(network.publicHost()));
        if (!network.bindsAll()) {
            hosts.add(network.bind());
        }
        hosts.addAll(List.of("localhost", "127.0.0.1"));
        return hosts;
    }

    /** The API's key and its chain: its certificate, then the CA's. */
    record Issued(PrivateKey key, X509Certificate[] chain) {
    }

    /** A new certificate for the API ({@link CertificateAuthority#issueApiCertificate}: marked as the API's). */
    Issued issue() {
        ServerCertificate certificate = authority.issueApiCertificate(hosts());
        return new Issued(Pem.readPrivateKey(certificate.privateKeyPem()), new X509Certificate[] {
                Pem.readCertificate(certificate.certificatePem()), Pem.readCertificate(authority.certificatePem())});
    }

    private KeyStore keyStore() {
        Issued issued = issue();
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry(NAME, issued.key(), password.toCharArray(), issued.chain());
            return store;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("could not hold the API's key", e);
        }
    }
}
