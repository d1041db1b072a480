package dev.keel.tls;

import dev.keel.KeelHome;
import dev.keel.RandomStrings;
import dev.keel.catalog.AdvisoryLock;
import dev.keel.credentials.Secrets;
import jakarta.inject.Singleton;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;
import org.jooq.DSLContext;
import org.jooq.Record3;

import java.nio.file.attribute.PosixFilePermissions;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

import static dev.keel.catalog.schema.Tables.CERTIFICATE_AUTHORITIES;

/**
 * The installation's certificate authority (ECDSA P-256), created once and kept in the catalog
 * with its key sealed, so every Keel node signs with the same CA. Clients verify instances
 * against it ({@code sslmode=verify-full}); its certificate is served at {@code GET /v1/ca.pem}
 * and written to {@code <data dir>/ca.pem} for Keel's own connections.
 */
@Singleton
public final class CertificateAuthority {
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);
    private static final Duration SERVER_VALIDITY = Duration.ofDays(825);
    private static final Duration BACKDATE = Duration.ofHours(1);

    /**
     * The subject alternative name (a URI) that marks a certificate of Keel's API. The CA also signs
     * certificates for databases' servers and poolers, for the same host names, and their keys sit
     * where Postgres's and PgBouncer's OS accounts read them; a node asking another accepts only a
     * certificate with this mark, so that none of those keys can pose as a node.
     */
    static final String API_MARK = "urn:keel:api";

    private final DSLContext dsl;
    private final Secrets secrets;
    private final Path caFile;
    private final Path sharedCaFile;
    private volatile X509Certificate certificate;
    private volatile PrivateKey privateKey;
    private volatile String certificatePem;

    CertificateAuthority(DSLContext dsl, Secrets secrets, KeelHome home) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.caFile = home.resolve("ca.pem");
        this.sharedCaFile = home.serverDir().resolve("ca.pem");
    }

    /** Loads the CA from the catalog, creating it on the installation's first start. */
    public void load() {
        Record3<UUID, String, byte[]> row = dsl.transactionResult(tx -> {
            DSLContext sql = tx.dsl();
            AdvisoryLock.CERTIFICATE_AUTHORITY.acquire(sql);
            Record3<UUID, String, byte[]> newest = newest(sql);
            if (newest == null) {
                create(sql);
                newest = newest(sql);
            }
            return newest;
        });
        this.certificatePem = row.value2();
        this.certificate = Pem.readCertificate(certificatePem);
        this.privateKey = Pem.readPrivateKey(secrets.open(row.value3(), context(row.value1())));
        try {
            Files.writeString(caFile, certificatePem);
            if (!sharedCaFile.equals(caFile)) {
                Files.writeString(sharedCaFile, certificatePem);
                Files.setPosixFilePermissions(sharedCaFile, PosixFilePermissions.fromString("rw-r--r--"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + caFile + " or " + sharedCaFile, e);
        }
    }

    private static Record3<UUID, String, byte[]> newest(DSLContext sql) {
        return sql.select(CERTIFICATE_AUTHORITIES.ID, CERTIFICATE_AUTHORITIES.CERTIFICATE, CERTIFICATE_AUTHORITIES.PRIVATE_KEY)
                .from(CERTIFICATE_AUTHORITIES)
                .orderBy(CERTIFICATE_AUTHORITIES.CREATED_AT.desc())
                .limit(1)
                .fetchOne();
    }

    private void create(DSLContext sql) {
        UUID id = UUID.randomUUID();
        KeyPair keys = newKeyPair();
        X500Name name = new X500Name("CN=Keel CA " + id.toString().substring(0, 8) + ",O=Keel");
        Instant now = Instant.now();
        try {
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(CA_VALIDITY)), name, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(keys.getPublic()));
            X509Certificate ca = sign(builder, keys.getPrivate());
            sql.insertInto(CERTIFICATE_AUTHORITIES)
                    .set(CERTIFICATE_AUTHORITIES.ID, id)
                    .set(CERTIFICATE_AUTHORITIES.CERTIFICATE, Pem.write(ca))
                    .set(CERTIFICATE_AUTHORITIES.PRIVATE_KEY, secrets.seal(Pem.write(keys.getPrivate()), context(id)))
                    .execute();
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("could not create the certificate authority", e);
        }
    }

    public String certificatePem() {
        return certificatePem;
    }

    /** A file holding the CA certificate, for clients that take a path ({@code sslrootcert}). */
    public Path certificateFile() {
        return caFile;
    }

    /**
     * The same certificate in the server directory, for programs Keel runs as other OS accounts
     * (pg_dump, psql, PgBouncer), which cannot reach the private data directory of a Keel run as root.
     */
    public Path sharedCertificateFile() {
        return sharedCaFile;
    }

    /** Signs a server certificate valid for {@code hosts} (names or IP addresses; the first is the CN). */
    public ServerCertificate issueServerCertificate(List<String> hosts) {
        return issue(hosts, false);
    }

    /**
     * {@link #issueServerCertificate} for Keel's own API, marked so ({@link #API_MARK}): the one
     * certificate another node's requests ({@link #nodeHttpClient}) accept.
     */
    ServerCertificate issueApiCertificate(List<String> hosts) {
        return issue(hosts, true);
    }

    private ServerCertificate issue(List<String> hosts, boolean api) {
        List<String> unique = List.copyOf(new LinkedHashSet<>(hosts));
        KeyPair keys = newKeyPair();
        Instant now = Instant.now();
        try {
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            Stream<GeneralName> hostNames = unique.stream()
                    .map(h -> IPAddress.isValid(h) ? new GeneralName(GeneralName.iPAddress, h) : new GeneralName(GeneralName.dNSName, h));
            GeneralName[] names = Stream.concat(hostNames, api ? Stream.of(new GeneralName(GeneralName.uniformResourceIdentifier, API_MARK))
                    : Stream.empty()).toArray(GeneralName[]::new);
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(certificate, serial(), Date.from(now.minus(BACKDATE)),
                    Date.from(now.plus(SERVER_VALIDITY)), new X500Name("CN=" + unique.get(0)), keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names))
                    .addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(keys.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(certificate));
            return new ServerCertificate(Pem.write(sign(builder, privateKey)), Pem.write(keys.getPrivate()));
        } catch (GeneralSecurityException | CertIOException e) {
            throw new IllegalStateException("could not issue a server certificate", e);
        }
    }

    /**
     * A TLS context for one of Keel's own HTTPS listeners: a new certificate from this CA for
     * {@code hosts}, presented with the CA's certificate as its chain.
     */
    public SSLContext serverContext(List<String> hosts) {
        return serverContext(issueServerCertificate(hosts));
    }

    /** A TLS context that presents {@code issued}, with the CA's certificate as its chain. */
    SSLContext serverContext(ServerCertificate issued) {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            char[] password = new char[0];
            keys.setKeyEntry("keel", Pem.readPrivateKey(issued.privateKeyPem()), password,
                    new Certificate[] {Pem.readCertificate(issued.certificatePem()), certificate});
            KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            factory.init(keys, password);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(factory.getKeyManagers(), null, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("could not make a TLS context for a server certificate", e);
        }
    }

    /**
     * An HTTP client for one node's requests to another's API: it trusts this installation's CA
     * alone, and of its certificates only the API's ({@link #API_MARK}), for the host asked; it
     * follows no redirect, and speaks HTTP/1.1, as the API does (no HTTP/2 attempt first).
     */
    public HttpClient nodeHttpClient(Duration connectTimeout) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(nodeClientContext()).connectTimeout(connectTimeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    private SSLContext nodeClientContext() {
        try {
            if (!(installationTrust() instanceof X509ExtendedTrustManager installation)) {
                throw new GeneralSecurityException("the JDK's X.509 trust manager does not check host names");
            }
            // The JDK's trust manager checks the chain and, with the engine's endpoint identification (HttpClient sets
            // HTTPS), the host name; the mark is checked after it.
            X509ExtendedTrustManager apiOnly = new X509ExtendedTrustManager() {
                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                    installation.checkServerTrusted(chain, authType, socket);
                    requireApiMark(chain);
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                    installation.checkServerTrusted(chain, authType, engine);
                    requireApiMark(chain);
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                    installation.checkServerTrusted(chain, authType);
                    requireApiMark(chain);
                }

                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
                    throw new CertificateException("Keel's requests to other nodes accept no client");
                }

                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
                    throw new CertificateException("Keel's requests to other nodes accept no client");
                }

                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                    throw new CertificateException("Keel's requests to other nodes accept no client");
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return installation.getAcceptedIssuers();
                }
            };
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {apiOnly}, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("could not make a TLS context for requests to other nodes", e);
        }
    }

    private static void requireApiMark(X509Certificate[] chain) throws CertificateException {
        Collection<List<?>> names = chain[0].getSubjectAlternativeNames();
        boolean marked = names != null && names.stream()
                .anyMatch(name -> Integer.valueOf(GeneralName.uniformResourceIdentifier).equals(name.get(0)) && API_MARK.equals(name.get(1)));
        if (!marked) {
            throw new CertificateException("the certificate presented (" + chain[0].getSubjectX500Principal().getName() + ") is signed by"
                    + " this installation's CA but is not one of Keel's API (it lacks " + API_MARK + "): the node asked runs a version"
                    + " of Keel from before that mark (upgrade it), or a database's or pooler's key answers where a node was asked");
        }
    }

    /** A TLS context for Keel's own HTTPS requests: it trusts the JDK's certificate authorities and this installation's. */
    public SSLContext clientContext() {
        try {
            X509TrustManager installation = installationTrust();
            X509TrustManager system = trustManager(null);
            X509TrustManager both = new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                    system.checkClientTrusted(chain, authType);
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                    try {
                        installation.checkServerTrusted(chain, authType);
                    } catch (CertificateException notOurs) {
                        system.checkServerTrusted(chain, authType);
                    }
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    X509Certificate[] ours = installation.getAcceptedIssuers();
                    X509Certificate[] theirs = system.getAcceptedIssuers();
                    X509Certificate[] all = Arrays.copyOf(ours, ours.length + theirs.length);
                    System.arraycopy(theirs, 0, all, ours.length, theirs.length);
                    return all;
                }
            };
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {both}, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("could not make a client TLS context", e);
        }
    }

    /** The JDK's trust manager for this installation's CA alone. */
    private X509TrustManager installationTrust() throws GeneralSecurityException, IOException {
        KeyStore trusted = KeyStore.getInstance("PKCS12");
        trusted.load(null, null);
        trusted.setCertificateEntry("keel-ca", certificate);
        return trustManager(trusted);
    }

    private static X509TrustManager trustManager(KeyStore store) throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509TrustManager x509) {
                return x509;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager");
    }

    private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static KeyPair newKeyPair() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is not available", e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(1, RandomStrings.bytes(16));
    }

    private static String context(UUID id) {
        return "certificate-authority:" + id;
    }
}
