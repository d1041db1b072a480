package dev.keel.tls;

/** A server certificate and its private key, both PEM (the key unencrypted PKCS#8, for Postgres). */
public record ServerCertificate(String certificatePem, String privateKeyPem) {
    @Override
    public String toString() {
        return "ServerCertificate[private key hidden]";
    }
}
