package dev.keel.dumps;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.archive.Sha256;
import dev.keel.postgres.ClientTools;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.RowFingerprint;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Logical backups end to end through the REST API, with the real pg_dump and pg_restore: a dump
 * is stored with its sha256, downloads through its signed link, and restores row for row (large
 * objects too), by hand from the download and by Keel from a URL and from the backup itself.
 */
@ExtendWith(SharedKeel.class)
class LogicalBackupTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pg_dump", "pg_restore");
    }

    @Test
    void aBackupDownloadsAndRestoresRowForRowByHandFromAUrlAndFromTheBackup(TestKeel keel) throws Exception {
        Api api = keel.newTeam("dumps-" + System.nanoTime());
        List<String> made = new ArrayList<>();
        try {
            JsonNode source = provision(api, made);
            Map<String, String> expected;
            try (Connection owner = Pg.connect(source.get("url").asText(), keel.caFile())) {
                RowFingerprint.fill(owner, 2000);
                expected = RowFingerprint.of(owner);
            }
            assertThat(expected).containsKey("table public.kinds").containsEntry("large objects", expected.get("large objects"));
            assertThat(expected.get("large objects")).startsWith("3 objects");

            Api.Response captured = api.post("/v1/databases/" + source.get("id").asText() + "/logical-backups", "");
            assertThat(captured.status()).as(captured.toString()).isEqualTo(202);
            JsonNode backup = awaitFinished(api, "/v1/databases/" + source.get("id").asText() + "/logical-backups/" + captured.field("id"));
            assertThat(backup.get("state").asText()).as(backup.toString()).isEqualTo("completed");
            String sha256 = backup.get("sha256").asText();
            assertThat(sha256).matches("[0-9a-f]{64}");
            long size = backup.get("processed_bytes").asLong();
            assertThat(size).isPositive();
            assertThat(backup.get("source_bytes").asLong()).isGreaterThan(size / 100);
            assertThat(backup.get("name").asText()).matches("b\\d{3,}");
            JsonNode operation = api.get("/v1/operations/" + backup.get("operation_id").asText()).json();
            assertThat(operation.get("progress").get("unit").asText()).isEqualTo("bytes");
            assertThat(operation.get("progress").get("done").asLong()).isEqualTo(size);

            ObjectStore store = keel.bean(ObjectStore.class);
            String key = source.get("id").asText() + "/dumps/" + backup.get("id").asText() + ".dump";
            assertThat(store.head(key)).hasValueSatisfying(o -> assertThat(o.size()).isEqualTo(size));
            try (InputStream stored = store.get(key)) {
                assertThat(Sha256.of(stored.readAllBytes())).isEqualTo(sha256);
            }

            Api.Response link = api.post("/v1/databases/" + source.get("id").asText() + "/logical-backups/" + backup.get("id").asText()
                    + "/url", "");
            assertThat(link.status()).as(link.toString()).isEqualTo(200);
            String url = link.field("url");
            assertThat(url).startsWith("https://");
            HttpClient https = HttpClient.newBuilder().sslContext(trusting(keel.caFile())).build();
            Path downloaded = Files.createTempFile(TestKeel.workDir(), "backup", ".dump");
            HttpResponse<Path> got = https.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofFile(downloaded));
            assertThat(got.statusCode()).isEqualTo(200);
            assertThat(Sha256.of(Files.readAllBytes(downloaded))).isEqualTo(sha256);
            String forgedUrl = url.substring(0, url.length() - 1) + (url.endsWith("0") ? "1" : "0");
            HttpResponse<String> forged = https.send(HttpRequest.newBuilder(URI.create(forgedUrl)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(403);

            JsonNode byHand = provision(api, made);
            restoreByHand(keel, byHand.get("url").asText(), downloaded);
            Files.delete(downloaded);
            assertThat(fingerprint(keel, byHand)).isEqualTo(expected);

            JsonNode fromUrl = provision(api, made);
            JsonNode restored = restore(api, fromUrl, "{\"url\":\"" + url + "\"}");
            assertThat(restored.get("state").asText()).as(restored.toString()).isEqualTo("completed");
            assertThat(restored.get("processed_bytes").asLong()).isEqualTo(size);
            assertThat(fingerprint(keel, fromUrl)).isEqualTo(expected);

            JsonNode fromBackup = provision(api, made);
            try (Connection owner = Pg.connect(fromBackup.get("url").asText(), keel.caFile())) {
                owner.createStatement().execute("create table kinds (stale int)"); // replaced by the restore
            }
            JsonNode again = restore(api, fromBackup, "{\"backup\":\"" + backup.get("name").asText() + "\"}");
            assertThat(again.get("state").asText()).as(again.toString()).isEqualTo("completed");
            assertThat(fingerprint(keel, fromBackup)).isEqualTo(expected);

            for (String refused : List.of("http://example.com/b.dump", "https://127.0.0.1:1/b.dump", "https://169.254.169.254/latest",
                    "https://[::1]/b.dump", "not a url")) {
                Api.Response answer = api.post("/v1/databases/" + fromUrl.get("id").asText() + "/logical-restores",
                        "{\"url\":\"" + refused + "\"}");
                assertThat(answer.status()).as(refused + ": " + answer).isEqualTo(422);
            }
        } finally {
            made.forEach(api::deprovision);
        }
    }

    @Test
    void aServerNewerThanTheClientToolsIsRefusedNamingTheVersionNeeded(TestKeel keel) {
        int client = keel.bean(ClientTools.class).newest("pg_dump").orElseThrow().major();
        Assumptions.assumeTrue(client < 18, "pg_dump " + client + " dumps every major Keel serves; nothing to refuse here");
        Api api = keel.newTeam("dumps-new-" + System.nanoTime());
        String id = api.provision("{\"plan\":\"standard-0\",\"version\":\"" + (client + 1) + "\"}").get("id").asText();
        try {
            Api.Response refused = api.post("/v1/databases/" + id + "/logical-backups", "");
            assertThat(refused.status()).as(refused.toString()).isEqualTo(422);
            assertThat(refused.field("type")).isEqualTo("/problems/client-tools-needed");
            assertThat(refused.field("detail")).contains("Postgres " + (client + 1)).contains("pg_dump " + (client + 1) + " or newer")
                    .contains("KEEL_POSTGRES_CLIENT_DIR");
            assertThat(refused.json().get("needed_major").asInt()).isEqualTo(client + 1);
            assertThat(api.get("/v1/databases/" + id + "/logical-backups").json()).isEmpty();
        } finally {
            api.deprovision(id);
        }
    }

    static JsonNode provision(Api api, List<String> made) {
        Api.Response created = api.post("/v1/databases", "{\"plan\":\"standard-0\",\"version\":\"15\"}");
        assertThat(created.status()).as(created.toString()).isEqualTo(202);
        made.add(created.field("id"));
        return api.awaitAvailable(created.field("id"));
    }

    static JsonNode awaitFinished(Api api, String path) {
        return Wait.until(path + " to finish", Timeouts.LOGICAL_BACKUP, () -> {
            JsonNode transfer = api.get(path).json();
            return transfer.get("state").asText().equals("running") ? Optional.empty() : Optional.of(transfer);
        });
    }

    static JsonNode restore(Api api, JsonNode target, String body) {
        Api.Response accepted = api.post("/v1/databases/" + target.get("id").asText() + "/logical-restores", body);
        assertThat(accepted.status()).as(accepted.toString()).isEqualTo(202);
        assertThat(accepted.field("name")).matches("r\\d{3,}");
        return awaitFinished(api, "/v1/databases/" + target.get("id").asText() + "/logical-restores/" + accepted.field("id"));
    }

    static Map<String, String> fingerprint(TestKeel keel, JsonNode database) throws Exception {
        try (Connection owner = Pg.connect(database.get("url").asText(), keel.caFile())) {
            return RowFingerprint.of(owner);
        }
    }

    /** pg_restore run by hand as the target's owner, as a user with the downloaded file would. */
    static void restoreByHand(TestKeel keel, String url, Path dump) throws Exception {
        URI uri = URI.create(url);
        String[] user = uri.getRawUserInfo().split(":", 2);
        ClientTools.Tool pgRestore = keel.bean(ClientTools.class).newest("pg_restore").orElseThrow();
        ProcessBuilder builder = new ProcessBuilder(pgRestore.path().toString(), "--no-owner", "--no-acl",
                "--dbname=host=" + uri.getHost() + " port=" + uri.getPort() + " user=" + user[0] + " dbname=" + uri.getPath().substring(1)
                        + " sslmode=verify-full sslrootcert=" + keel.caFile(), dump.toString()).redirectErrorStream(true);
        builder.environment().put("PGPASSWORD", user[1]);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(Timeouts.LOGICAL_BACKUP.toSeconds(), TimeUnit.SECONDS)).isTrue();
        // The one error a restore as the owner meets: the dump comments on pg_stat_statements, which Keel (not the owner) made.
        if (process.exitValue() != 0) {
            assertThat(output).as(output).contains("errors ignored on restore: 1").contains("must be owner of extension pg_stat_statements");
        }
    }

    static SSLContext trusting(Path caFile) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        try (InputStream in = Files.newInputStream(caFile)) {
            store.setCertificateEntry("keel", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }
}
