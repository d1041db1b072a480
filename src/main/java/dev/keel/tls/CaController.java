package dev.keel.tls;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;

/** {@code GET /v1/ca.pem}: the CA certificate clients verify instances with. Public, like any certificate. */
@Controller("/v1")
final class CaController {
    private final CertificateAuthority authority;

    CaController(CertificateAuthority authority) {
        this.authority = authority;
    }

    @Get("/ca.pem")
    HttpResponse<String> caCertificate() {
        return HttpResponse.ok(authority.certificatePem()).contentType("application/x-pem-file");
    }
}
