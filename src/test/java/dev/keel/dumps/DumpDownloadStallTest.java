package dev.keel.dumps;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.archive.Sha256;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The backup download server's few threads cannot all be held by clients that stop reading, read
 * a trickle, or never finish their TLS handshake or request: a download that averages less than
 * {@code KEEL_BACKUPS_DOWNLOAD_MIN_RATE} over a {@code KEEL_BACKUPS_DOWNLOAD_STALL} span
 * ({@link SharedKeel#DOWNLOAD_MIN_RATE_KIB} KiB/s over {@link SharedKeel#DOWNLOAD_STALL_SECONDS} s
 * here) is ended, a connection that has not sent its request within
 * {@code KEEL_BACKUPS_DOWNLOAD_REQUEST_WITHIN} is closed, one backup is downloaded at most
 * {@link DownloadPlaces#MAX_PER_BACKUP} times at once and one team's backups
 * {@link SharedKeel#DOWNLOAD_MAX_PER_TEAM} times, and others download meanwhile; a refusal or a
 * crowd of connections that never finish their handshakes does not hold the server either; a client
 * that reads slowly but keeps above the minimum gets the whole dump. A link works only while the
 * API key that made it is not revoked, and a download under way is cut once it is.
 */
@ExtendWith(SharedKeel.class)
class DumpDownloadStallTest {
    /** Far more than the kernel's socket buffers take (4 MB sent, a small window received), so a client that stops reading stops the server's writes. */
    private static final int NOISE_MB = 16;
    /** What a client asks the kernel to buffer for it: a small window, so the server soon waits on the client. */
    private static final int RECEIVE_BUFFER = 8 * 1024;
    /** Connections that each sent a byte of a TLS handshake: fewer than the server's threads, six times the 8 it had. */
    private static final int UNFINISHED_HANDSHAKES = 48;

    private static Api team;
    private static String database;
    private static String backupId;
    private static URI link;
    private static String sha256;
    /** A second backup of the same database, for a download while the first one's are at their cap. */
    private static URI otherLink;
    private static String otherSha256;
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
        JsonNode backup = backup();
        backupId = backup.get("id").asText();
        sha256 = backup.get("sha256").asText();
        link = linkTo(team, backup);
        JsonNode other = backup();
        otherSha256 = other.get("sha256").asText();
        otherLink = linkTo(team, other);
        tls = LogicalBackupTest.trusting(keel.caFile());
    }

    private static JsonNode backup() {
        String backups = "/v1/databases/" + database + "/logical-backups";
        Api.Response captured = team.post(backups, "");
        assertThat(captured.status()).as(captured.toString()).isEqualTo(202);
        JsonNode backup = LogicalBackupTest.awaitFinished(team, backups + "/" + captured.field("id"));
        assertThat(backup.get("state").asText()).as(backup.toString()).isEqualTo("completed");
        assertThat(backup.get("processed_bytes").asLong()).isGreaterThan(NOISE_MB * 1024L * 1024 * 9 / 10);
        return backup;
    }

    private static URI linkTo(Api api, JsonNode backup) {
        Api.Response made = api.post("/v1/databases/" + database + "/logical-backups/" + backup.get("id").asText() + "/url", "");
        assertThat(made.status()).as(made.toString()).isEqualTo(200);
        return URI.create(made.field("url"));
    }

    @AfterAll
    static void remove() {
        if (database != null) {
            team.deprovision(database);
        }
    }

    @Test
    void clientsThatStopReadingOrNeverFinishTheirRequestDoNotStarveADownload() throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            // Every thread of the server held: by clients that took the headers and stopped reading (as many as one backup may have),
            // by handshakes never finished, and by requests never finished.
            long stoppedAt = System.nanoTime();
            for (int i = 0; i < DownloadPlaces.MAX_PER_BACKUP; i++) {
                stalled.add(reading(link));
            }
            halfOpen(stalled, DumpDownloadServer.THREADS - DownloadPlaces.MAX_PER_BACKUP);

            HttpClient https = HttpClient.newBuilder().sslContext(tls).build();
            HttpResponse<byte[]> got = https.send(HttpRequest.newBuilder(otherLink).timeout(Timeouts.DOWNLOAD_PAST_STALLED).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(got.statusCode()).isEqualTo(200);
            assertThat(Sha256.of(got.body())).isEqualTo(otherSha256);

            // The clients that stopped reading stay stopped for two spans and a second, then were ended, short of the dump.
            long stoppedFor = (System.nanoTime() - stoppedAt) / 1_000_000;
            Thread.sleep(Math.max(0, (2 * SharedKeel.DOWNLOAD_STALL_SECONDS + 1) * 1000 - stoppedFor)); // a stopped client, not a wait
            for (Socket socket : stalled.subList(0, DownloadPlaces.MAX_PER_BACKUP)) {
                assertThat(drain(socket)).isLessThan(contentLength);
            }
        } finally {
            for (Socket socket : stalled) {
                socket.close();
            }
        }
    }

    @Test
    void halfOpenConnectionsAreClosedAtTheRequestDeadlineNotAtTheStallSpan() throws Exception {
        List<Socket> halfOpen = new ArrayList<>();
        try {
            long asked = System.nanoTime(); // from the first half-open connection on
            halfOpen(halfOpen, DumpDownloadServer.THREADS);
            try (SSLSocket socket = connect()) {
                ask(socket, otherLink);
                headers(socket.getInputStream());
                long waited = (System.nanoTime() - asked) / 1_000_000;
                // The threads were freed at the request deadline (2 s), not at the end of a stall span (4 s), as before.
                assertThat(waited).as("ms until a download began while half-open connections held every thread")
                        .isLessThan(SharedKeel.DOWNLOAD_STALL_SECONDS * 1000);
            }
        } finally {
            for (Socket socket : halfOpen) {
                socket.close();
            }
        }
    }

    @Test
    void aCrowdOfUnfinishedHandshakesDoesNotQueueADownloadBehindIt() throws Exception {
        List<Socket> crowd = new ArrayList<>();
        try {
            long asked = System.nanoTime();
            // Six times the 8 threads the server had for handshakes, requests and downloads alike: each connection held one for
            // the request deadline (2 s) in turn, so a real client waited six deadlines.
            for (int i = 0; i < UNFINISHED_HANDSHAKES; i++) {
                crowd.add(helloNeverSent());
            }
            try (SSLSocket socket = reading(otherLink)) {
                long waited = (System.nanoTime() - asked) / 1_000_000;
                assertThat(waited).as("ms until a download began behind " + UNFINISHED_HANDSHAKES + " unfinished handshakes")
                        .isLessThan(2 * SharedKeel.DOWNLOAD_REQUEST_WITHIN_SECONDS * 1000);
            }
        } finally {
            for (Socket socket : crowd) {
                socket.close();
            }
        }
    }

    @Test
    void aRefusalEndsAtTheRequestDeadlineHoweverSlowlyItsBodyArrives() throws Exception {
        long asked = System.nanoTime();
        try (SSLSocket socket = connect()) {
            // No valid link, and a body announced, which the server reads (up to 64 KB) when it closes the exchange: a byte at a time.
            String request = "GET " + DumpLinks.PATH + UUID.randomUUID() + " HTTP/1.1\r\nHost: " + link.getHost() + "\r\n"
                    + "Content-Length: 65536\r\n\r\n";
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread trickle = new Thread(() -> {
                try {
                    while (!socket.isClosed()) {
                        out.write('x');
                        out.flush();
                        Thread.sleep(50); // a client's pace, not a wait for a condition
                    }
                } catch (IOException | InterruptedException ended) {
                    // the server closed the connection, or the test did
                }
            }, "trickling-body");
            trickle.setDaemon(true);
            trickle.start();
            drain(socket);
            long ended = (System.nanoTime() - asked) / 1_000_000;
            // At the request deadline (2 s), not after a download's grace (the stall span, 4 s), as before.
            assertThat(ended).as("ms until the refused connection with a trickling body was closed")
                    .isLessThan(SharedKeel.DOWNLOAD_STALL_SECONDS * 1000);
        }
    }

    @Test
    void aBackupIsDownloadedAtMostTwiceAtOnce() throws Exception {
        List<Socket> downloads = new ArrayList<>();
        try {
            for (int i = 0; i < DownloadPlaces.MAX_PER_BACKUP; i++) {
                downloads.add(reading(link));
            }
            HttpClient https = HttpClient.newBuilder().sslContext(tls).build();
            HttpResponse<String> refused = https.send(HttpRequest.newBuilder(link).timeout(Timeouts.REQUEST).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.body()).matches("Backup b\\d+ is being downloaded 2 times at once already, as many as one backup may be;"
                    + " wait for one of those downloads to finish, then ask again.\n");
            for (Socket socket : downloads) {
                socket.close();
            }
            reading(link).close(); // a place given back is taken again
        } finally {
            for (Socket socket : downloads) {
                socket.close();
            }
        }
    }

    @Test
    void aTeamRunsAtMostItsCapOfDownloadsAtOnce() throws Exception {
        List<Socket> downloads = new ArrayList<>();
        try {
            // The team's cap (3 here), over two backups, neither at its own cap of two.
            for (int i = 0; i < DownloadPlaces.MAX_PER_BACKUP; i++) {
                downloads.add(reading(link));
            }
            for (int i = DownloadPlaces.MAX_PER_BACKUP; i < SharedKeel.DOWNLOAD_MAX_PER_TEAM; i++) {
                downloads.add(reading(otherLink));
            }
            HttpClient https = HttpClient.newBuilder().sslContext(tls).build();
            HttpResponse<String> refused = https.send(HttpRequest.newBuilder(otherLink).timeout(Timeouts.REQUEST).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(429);
            assertThat(refused.body()).isEqualTo("Your team is running 3 backup downloads at once already, as many as one team may"
                    + " (KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM); wait for one of them to finish, then ask again.\n");
            downloads.remove(0).close();
            downloads.add(reading(otherLink)); // a place given back is taken again
        } finally {
            for (Socket socket : downloads) {
                socket.close();
            }
        }
    }

    @Test
    void aTrickleBelowTheMinimumRateIsCut() throws Exception {
        try (SSLSocket socket = reading(link)) {
            long length = contentLength;
            // A client, not a wait for a condition: it reads a quarter of the minimum rate, enough to beat a rule of "some byte per
            // span" (a blocked write goes on once a third of the kernel's buffers drained: 1 MB here), for four spans and a second
            // (those buffers count as taken at first), then takes whatever is left fast.
            long trickled = readAt(socket.getInputStream(), SharedKeel.DOWNLOAD_MIN_RATE_KIB * 1024 / 4,
                    Duration.ofSeconds(4 * SharedKeel.DOWNLOAD_STALL_SECONDS + 1));
            assertThat(trickled + drain(socket)).as("bytes the trickle got").isLessThan(length);
        }
    }

    @Test
    void aSteadyDownloadAboveTheMinimumRateIsNotCut() throws Exception {
        try (SSLSocket socket = reading(link)) {
            long length = contentLength;
            InputStream in = socket.getInputStream();
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            // A client reading a quarter above the minimum rate, for three spans and a second, then the rest fast.
            long read = readAt(new DigestInputStream(in, digest), SharedKeel.DOWNLOAD_MIN_RATE_KIB * 1024 * 5 / 4,
                    Duration.ofSeconds(3 * SharedKeel.DOWNLOAD_STALL_SECONDS + 1));
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                read += n;
            }
            assertThat(read).isEqualTo(length);
            assertThat(Sha256.hex(digest.digest())).isEqualTo(sha256);
        }
    }

    @Test
    void aLinkStopsWorkingOnceTheKeyThatMadeItIsRevoked() throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"links\"}");
        assertThat(key.status()).as(key.toString()).isEqualTo(201);
        String backups = "/v1/databases/" + database + "/logical-backups";
        Api.Response made = team.withKey(key.field("key")).post(backups + "/" + backupId + "/url", "");
        assertThat(made.status()).as(made.toString()).isEqualTo(200);
        URI keyed = URI.create(made.field("url"));
        HttpClient https = HttpClient.newBuilder().sslContext(tls).build();
        HttpRequest head = HttpRequest.newBuilder(keyed).method("HEAD", HttpRequest.BodyPublishers.noBody()).timeout(Timeouts.REQUEST).build();
        // It works (once earlier tests' downloads of the backup have given their places back).
        Wait.until("the link to answer 200", Timeouts.DOWNLOAD_PAST_STALLED, () -> status(https, head) == 200);
        assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
        HttpResponse<String> refused = https.send(HttpRequest.newBuilder(keyed).timeout(Timeouts.REQUEST).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).isEqualTo("The API key that made this link was revoked, and the link with it; ask for a new one"
                + " (heroku pg:backups:url) with a key that is not revoked.\n");
    }

    /**
     * A download under way when the key that made its link is revoked is cut short, not finished: the client, reading a quarter
     * above the minimum rate (the whole dump would take it about six seconds), gets what the server sent before the revocation
     * and the kernels' buffers held, then the end of the connection.
     */
    @Test
    void aDownloadUnderWayIsCutOnceTheKeyThatMadeItsLinkIsRevoked() throws Exception {
        Api.Response key = team.post("/v1/api-keys", "{\"name\":\"download\"}");
        assertThat(key.status()).as(key.toString()).isEqualTo(201);
        Api.Response made = team.withKey(key.field("key")).post("/v1/databases/" + database + "/logical-backups/" + backupId + "/url", "");
        assertThat(made.status()).as(made.toString()).isEqualTo(200);
        long rate = SharedKeel.DOWNLOAD_MIN_RATE_KIB * 1024 * 5 / 4;
        try (SSLSocket socket = reading(URI.create(made.field("url")))) {
            long length = contentLength;
            long[] read = {0};
            InputStream in = new FilterInputStream(socket.getInputStream()) {
                @Override
                public int read(byte[] buffer, int offset, int count) throws IOException {
                    int n = super.read(buffer, offset, count);
                    read[0] += Math.max(n, 0);
                    return n;
                }
            };
            readAt(in, rate, Duration.ofSeconds(1));
            assertThat(read[0]).as("bytes read before the revocation").isPositive();
            assertThat(team.delete("/v1/api-keys/" + key.field("id")).status()).isEqualTo(204);
            long revoked = System.nanoTime();
            try {
                readAt(in, rate, Timeouts.DOWNLOAD_PAST_STALLED); // returns at the end of the stream
            } catch (IOException cut) {
                // cut without TLS's close_notify: ended all the same
            }
            Duration ended = Duration.ofNanos(System.nanoTime() - revoked);
            assertThat(read[0]).as("bytes the client got of " + length).isLessThan(length);
            assertThat(ended).as("time from the revocation to the end").isLessThan(Timeouts.DOWNLOAD_REVOKED);
        }
    }

    @Test
    void aSlowDownloadThatKeepsReadingGetsTheWholeDump() throws Exception {
        long began = System.nanoTime(); // before the request: the client's time since then is never less than the server's
        try (SSLSocket socket = reading(link)) {
            InputStream in = socket.getInputStream();
            long length = contentLength;
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[64 * 1024];
            long read = 0;
            int n;
            int pauses = 0;
            long paused = 0;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
                read += n;
                if (read > (pauses + 1) * 4L * 1024 * 1024 && pauses < 4) {
                    pauses++;
                    paused += pauseWithinTheRules(read, began);
                }
            }
            assertThat(pauses).isEqualTo(4);
            assertThat(paused).as("ms the client took nothing, in all").isGreaterThanOrEqualTo(PAUSE_MILLIS);
            assertThat(read).isEqualTo(length);
            assertThat(Sha256.hex(digest.digest())).isEqualTo(sha256);
        }
    }

    /** The longest pause of the slow client: most of the stall span, in which a download must move some byte. */
    private static final long PAUSE_MILLIS = SharedKeel.DOWNLOAD_STALL_SECONDS * 1000 * 6 / 10;

    /**
     * A slow client taking nothing for up to {@link #PAUSE_MILLIS}, but only while what it read stays half again above what the
     * minimum rate asks by now (rate × (time since it asked − the stall span's grace)), so that however slowly a loaded machine
     * lets it read, it keeps within the rules and is never cut; the server counts at least what the client read as moved.
     * How long it paused, in ms.
     */
    private static long pauseWithinTheRules(long read, long began) throws InterruptedException {
        long rate = SharedKeel.DOWNLOAD_MIN_RATE_KIB * 1024;
        long start = System.nanoTime();
        while (System.nanoTime() - start < PAUSE_MILLIS * 1_000_000) {
            double sinceGrace = (System.nanoTime() - began) / 1e9 - SharedKeel.DOWNLOAD_STALL_SECONDS;
            if (read <= 1.5 * rate * sinceGrace) {
                break;
            }
            Thread.sleep(20); // a client's pace, not a wait for a condition
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    private static int status(HttpClient https, HttpRequest request) {
        try {
            return https.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The length of the dump the last {@link #reading} connection is getting. */
    private static long contentLength;

    /** A connection that asked for {@code uri} and read its headers (200), once the backup has room for one more download. */
    private static SSLSocket reading(URI uri) {
        return Wait.until("a download of " + uri.getPath() + " to begin", Timeouts.DOWNLOAD_PAST_STALLED, () -> {
            try {
                SSLSocket socket = connect();
                ask(socket, uri);
                String status = statusLine(socket.getInputStream());
                if (status.startsWith("HTTP/1.1 429")) {
                    socket.close();
                    return Optional.empty();
                }
                assertThat(status).startsWith("HTTP/1.1 200");
                contentLength = Long.parseLong(headerFields(socket.getInputStream()).get("content-length"));
                return Optional.of(socket);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Adds {@code count} connections that hold a download thread without a request: half stop in the TLS handshake, half in the request. */
    private static void halfOpen(List<Socket> into, int count) throws IOException {
        for (int i = 0; i < count; i++) {
            if (i % 2 == 0) {
                into.add(helloNeverSent());
            } else {
                SSLSocket unfinished = connect();
                into.add(unfinished);
                unfinished.getOutputStream().write(("GET " + link.getRawPath()).getBytes(StandardCharsets.US_ASCII));
                unfinished.getOutputStream().flush();
            }
        }
    }

    /** A connection that sent the first bytes of a TLS handshake and nothing more. */
    private static Socket helloNeverSent() throws IOException {
        Socket raw = new Socket();
        raw.connect(new InetSocketAddress(link.getHost(), link.getPort()), (int) Timeouts.REQUEST.toMillis());
        raw.setSoTimeout((int) Timeouts.DOWNLOAD_PAST_STALLED.toMillis());
        try {
            // A TLS record header announcing a ClientHello that never comes.
            raw.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01});
            raw.getOutputStream().flush();
        } catch (IOException e) {
            raw.close();
            throw e;
        }
        return raw;
    }

    /** Reads {@code in} at {@code rate} bytes a second for {@code span}, as a slow client does; how much it read. */
    private static long readAt(InputStream in, long rate, Duration span) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long read = 0;
        byte[] buffer = new byte[4 * 1024];
        while (System.nanoTime() - start < span.toNanos()) {
            long due = rate * (System.nanoTime() - start) / 1_000_000_000L;
            if (read < due) {
                int n = in.read(buffer, 0, (int) Math.min(buffer.length, due - read));
                if (n < 0) {
                    return read;
                }
                read += n;
            } else {
                Thread.sleep(20); // pacing a client's reads, not waiting for a condition
            }
        }
        return read;
    }

    private static SSLSocket connect() throws IOException {
        SSLSocket socket = (SSLSocket) tls.getSocketFactory().createSocket();
        socket.setReceiveBufferSize(RECEIVE_BUFFER);
        socket.connect(new InetSocketAddress(link.getHost(), link.getPort()), (int) Timeouts.REQUEST.toMillis());
        socket.setSoTimeout((int) Timeouts.DOWNLOAD_PAST_STALLED.toMillis());
        socket.startHandshake();
        return socket;
    }

    private static void ask(SSLSocket socket, URI uri) throws IOException {
        String request = "GET " + uri.getRawPath() + "?" + uri.getRawQuery() + " HTTP/1.1\r\nHost: " + uri.getHost() + "\r\n"
                + "Connection: close\r\n\r\n";
        socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
    }

    /** Reads the status line and headers (lower-case names); the status must be 200. */
    private static Map<String, String> headers(InputStream in) throws IOException {
        assertThat(statusLine(in)).startsWith("HTTP/1.1 200");
        return headerFields(in);
    }

    private static String statusLine(InputStream in) throws IOException {
        return readUntil(in, "\r\n").strip();
    }

    /** Reads the header fields after the status line (lower-case names). */
    private static Map<String, String> headerFields(InputStream in) throws IOException {
        String head = readUntil(in, "\r\n\r\n");
        String[] lines = head.split("\r\n");
        Map<String, String> headers = new HashMap<>();
        for (int i = 0; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        return headers;
    }

    private static String readUntil(InputStream in, String end) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith(end)) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the connection ended in the headers: " + head.toString(StandardCharsets.US_ASCII));
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.US_ASCII);
    }

    /** Reads what a connection still holds until it ends; how much that was. */
    private static long drain(Socket socket) {
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
