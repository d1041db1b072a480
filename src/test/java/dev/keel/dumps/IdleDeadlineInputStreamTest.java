package dev.keel.dumps;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * A dump's server that sends its headers and a few bytes, then nothing: the JDK's HTTP client
 * would wait on the body for good, holding one of the operation threads every team shares. Read
 * through {@link IdleDeadlineInputStream}, the read fails after the idle time, and the thread is
 * not left interrupted.
 */
class IdleDeadlineInputStreamTest {

    @Test
    void aBodyThatStopsComingFailsTheReadAfterTheIdleTime() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/dump", exchange -> {
            exchange.sendResponseHeaders(200, 1_000_000);
            try (OutputStream body = exchange.getResponseBody()) {
                body.write(new byte[10]);
                body.flush();
                release.await(30, TimeUnit.SECONDS); // then nothing, for as long as the test lasts
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                // the client went away
            }
        });
        server.start();
        try {
            HttpClient client = HttpClient.newHttpClient();
            URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/dump");
            HttpResponse<InputStream> response = client.send(HttpRequest.newBuilder(uri).GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = new IdleDeadlineInputStream(response.body(), Duration.ofMillis(500))) {
                assertThat(body.readNBytes(10)).hasSize(10);
                long began = System.nanoTime();
                IOException stalled = catchThrowableOfType(IOException.class, () -> body.read(new byte[100]));
                Duration waited = Duration.ofNanos(System.nanoTime() - began);
                assertThat(stalled).as("the read ends").isNotNull();
                assertThat(stalled.getMessage()).startsWith("no data came for ").endsWith(" s; the server stopped sending");
                assertThat(waited).isBetween(Duration.ofMillis(450), Duration.ofSeconds(5));
                assertThat(Thread.currentThread().isInterrupted()).as("the interrupt ends with the read").isFalse();
                assertThat(catchThrowableOfType(IOException.class, () -> body.read())).as("and stays failed").isNotNull();
            }
        } finally {
            release.countDown();
            server.stop(0);
        }
    }

    @Test
    void aReaderSlowerThanTheIdleTimeIsNotCutOff() throws Exception {
        InputStream steady = new InputStream() {
            private int left = 3;

            @Override
            public int read() {
                return left-- > 0 ? 7 : -1;
            }
        };
        try (InputStream body = new IdleDeadlineInputStream(steady, Duration.ofMillis(200))) {
            for (int i = 0; i < 3; i++) {
                Thread.sleep(400); // the consumer, not the server, takes its time between reads
                assertThat(body.read()).isEqualTo(7);
            }
            assertThat(body.read()).isEqualTo(-1);
        }
    }
}
