package dev.keel.dumps;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.archive.Sha256;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backup download server's few threads cannot all be held by clients that stop reading (or
 * never finish their request): such a download is ended once it moved no byte for
 * {@code KEEL_BACKUPS_DOWNLOAD_STALL} ({@link SharedKeel#DOWNLOAD_STALL_SECONDS} here), and others
 * download meanwhile; a client that reads slowly but keeps reading gets the whole dump.
 */
@ExtendWith(SharedKeel.class)
class DumpDownloadStallTest {
    /** Far more than the kernel's socket buffers take (4 MB sent, a small window received), so a client that stops reading stops the server's writes. */
    private static final int NOISE_MB = 16;
    /** What a client asks the kernel to buffer for it: a small window, so the server soon waits on the client. */
    private static final int RECEIVE_BUFFER = 8 * 1024;

    private static Api team;
    private static String database;
    private static URI link;
    private static String sha256;
    private static SSLContext tls;

    @BeforeAll
    static void aLargeBackup(TestKeel keel) throws Exception {
        SystemTools.require("pg_dump");
        team = keel.newTeam("stalls-" + System.nanoTime());
        JsonNode db = team.provision("{\"plan\":\"essential-0\",\"version\":\"15\"}"); // the machine's pg_dump is 15
        database = db.get("id").asText();
        try (Connection owner = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = owner.createStatement()) {
            // Random bytes, which no compression shrinks: one 1 MB row per group.
            sql.execute("create table noise (bytes bytea)");
            sql.execute("insert into noise select decode(string_agg(md5(random()::text), ''), 'hex') from generate_series(1, "
                    + NOISE_MB * 65536 + ") g group by g % " + NOISE_MB);
        }
        String backups = "/v1/databases/" + database + "/logical-backups";
        Api.Response captured = team.post(backups, "");
        assertThat(captured.status()).as(captured.toString()).isEqualTo(202);
        JsonNode backup = LogicalBackupTest.awaitFinished(team, backups + "/" + captured.field("id"));
        assertThat(backup.get("state").asText()).as(backup.toString()).isEqualTo("completed");
        assertThat(backup.get("processed_bytes").asLong()).isGreaterThan(NOISE_MB * 1024L * 1024 * 9 / 10);
        sha256 = backup.get("sha256").asText();
        link = URI.create(team.post(backups + "/" + backup.get("id").asText() + "/url", "").field("url"));
        tls = LogicalBackupTest.trusting(keel.caFile());
    }

    @AfterAll
    static void remove() {
        if (database != null) {
            team.deprovision(database);
        }
    }

    @Test
    void clientsThatStopReadingOrNeverFinishTheirRequestDoNotStarveADownload() throws Exception {
        List<SSLSocket> stalled = new ArrayList<>();
        try {
            // Every thread of the server held: most by clients that took the headers and stopped reading, the rest by requests never finished.
            for (int i = 0; i < DumpDownloadServer.THREADS - 2; i++) {
                SSLSocket reader = connect();
                ask(reader);
                headers(reader.getInputStream());
                stalled.add(reader);
            }
            for (int i = 0; i < 2; i++) {
                SSLSocket unfinished = connect();
                unfinished.getOutputStream().write(("GET " + link.getRawPath()).getBytes(StandardCharsets.US_ASCII));
                unfinished.getOutputStream().flush();
                stalled.add(unfinished);
            }

            HttpClient https = HttpClient.newBuilder().sslContext(tls).build();
            HttpResponse<byte[]> got = https.send(HttpRequest.newBuilder(link).timeout(Timeouts.DOWNLOAD_PAST_STALLED).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(got.statusCode()).isEqualTo(200);
            assertThat(Sha256.of(got.body())).isEqualTo(sha256);

            // The stalled ones were ended, short of the dump.
            for (SSLSocket socket : stalled.subList(0, DumpDownloadServer.THREADS - 2)) {
                assertThat(drain(socket)).isLessThan(got.body().length);
            }
        } finally {
            for (SSLSocket socket : stalled) {
                socket.close();
            }
        }
    }

    @Test
    void aSlowDownloadThatKeepsReadingGetsTheWholeDump() throws Exception {
        try (SSLSocket socket = connect()) {
            ask(socket);
            InputStream in = socket.getInputStream();
            long length = Long.parseLong(headers(in).get("content-length"));
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[64 * 1024];
            long read = 0;
            int n;
            int pauses = 0;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                read += n;
                if (read > (pauses + 1) * 2L * 1024 * 1024 && pauses < 4) {
                    pauses++;
                    // A slow client, not a wait for a condition: it takes nothing for most of the stall bound, then reads on.
                    Thread.sleep(SharedKeel.DOWNLOAD_STALL_SECONDS * 1000 * 6 / 10);
                }
            }
            assertThat(pauses).isEqualTo(4);
            assertThat(read).isEqualTo(length);
            assertThat(Sha256.hex(digest.digest())).isEqualTo(sha256);
        }
    }

    private static SSLSocket connect() throws IOException {
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket();
        socket.setReceiveBufferSize(RECEIVE_BUFFER);
        socket.connect(new InetSocketAddress(link.getHost(), link.getPort()), (int) Timeouts.REQUEST.toMillis());
        socket.setSoTimeout((int) Timeouts.DOWNLOAD_PAST_STALLED.toMillis());
        socket.startHandshake();
        return socket;
    }

    private static void ask(SSLSocket socket) throws IOException {
        String request = "GET " + link.getRawPath() + "?" + link.getRawQuery() + " HTTP/1.1\r\nHost: " + link.getHost() + "\r\n"
                + "Connection: close\r\n\r\n";
        socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
    }

    /** Reads the status line and headers (lower-case names); the status must be 200. */
    private static Map<String, String> headers(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the connection ended in the headers: " + head.toString(StandardCharsets.US_ASCII));
            }
            head.write(b);
        }
        String[] lines = head.toString(StandardCharsets.US_ASCII).split("\r\n");
        assertThat(lines[0]).startsWith("HTTP/1.1 200");
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        return headers;
    }

    /** Reads what a connection still holds until it ends; how much that was. */
    private static long drain(SSLSocket socket) {
        long read = 0;
        byte[] buffer = new byte[64 * 1024];
        try {
            InputStream in = socket.getInputStream();
            int n;
            while ((n = in.read(buffer)) > 0) {
                read += n;
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("a stalled download was not ended within " + Timeouts.DOWNLOAD_PAST_STALLED, e);
        } catch (IOException ended) {
            // cut without TLS's close_notify: ended all the same
        }
        return read;
    }
}
