package dev.keel.dataclips;

import dev.keel.testing.Api;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/** Response headers the downloads must carry, read with the JDK client. */
final class HeadersCheck {
    private HeadersCheck() {
    }

    /**
     * A cross-origin GET (another port is another origin) is allowed to read the download.
     * Micronaut refuses non-loopback origins outright while Keel listens on loopback (its guard
     * against drive-by-localhost attacks), so the test's origin is a loopback one.
     */
    static void assertCors(Api anonymous, String path) {
        try {
            HttpResponse<Void> response = HttpClient.newHttpClient().send(anonymous.request(path)
                    .header("Origin", "http://localhost:8123").GET().build(), HttpResponse.BodyHandlers.discarding());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
            assertThat(response.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
