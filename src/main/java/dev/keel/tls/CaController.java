package dev.keel.tls;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Produces;

/** {@code GET /v1/ca.pem}: the CA certificate clients verify instances with. Public, like any certificate. */
@Controller("/v1")
final class CaController {
    private final CertificateAuthority authority;

    CaController(CertificateAuthority authority) {
        this.authority = authority;
    }

    @Get("/ca.pem")
    @Produces("application/x-pem-file")
    HttpResponse<String> caCertificate() {
        return HttpResponse.ok(authority.certificatePem()).contentType("application/x-pem-file");
    }
}
