package dev.keel.storage;

import dev.keel.Keel;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.StringReader;
import java.nio.file.Files;
import java.util.Map;
import java.util.Properties;

import static dev.keel.testing.ArchiveWaits.awaitInitialBackup;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** With KEEL_S3_*, Keel keeps its archive in that store (here another Keel's S3Proxy), in a bucket it creates, and starts no S3Proxy of its own. */
@ExtendWith(SharedKeel.class)
class ExternalObjectStoreTest {
    @Test
    void keelArchivesIntoTheConfiguredStoreAndBucket(TestKeel shared) throws Exception {
        Properties credentials = new Properties();
        credentials.load(new StringReader(Files.readString(shared.dataDir().resolve("s3/credentials.properties"))));
        Properties s3proxy = new Properties();
        s3proxy.load(new StringReader(Files.readString(shared.dataDir().resolve("s3/s3proxy.properties"))));
        String bucket = "external-" + System.nanoTime();
        Map<String, Object> store = Map.of(
                "keel.s3.endpoint", s3proxy.getProperty("s3proxy.endpoint"),
                "keel.s3.bucket", bucket,
                "keel.s3.access-key-id", credentials.getProperty("identity"),
                "keel.s3.secret-access-key", credentials.getProperty("credential"),
                "keel.instances.pool.size", 0);
        try (TestKeel keel = TestKeel.start("external-store", store)) {
            assertThat(keel.dataDir().resolve("s3")).doesNotExist();
            String id = keel.api().provision("{\"plan\":\"essential-0\"}").get("id").asText();
            awaitInitialBackup(keel.api(), id);
            // The shared Keel's store holds the new bucket with this database's archive.
            assertThat(shared.dataDir().resolve("s3/data/" + bucket + "/" + id + "/wal")).isDirectory();
            assertThat(shared.dataDir().resolve("s3/data/" + bucket + "/" + id + "/backups")).isDirectory();
            keel.api().deprovision(id);
        }
    }

    @Test
    void anEndpointWithoutABucketStopsKeelSayingWhichSettingIsMissing() {
        Throwable refused = catchThrowable(() -> TestKeel.start("external-store-no-bucket", Map.of("keel.s3.endpoint", "http://127.0.0.1:9")));
        assertThat(Keel.startupCause(refused))
                .hasMessage("KEEL_S3_ENDPOINT is set but KEEL_S3_BUCKET is not; say which bucket to keep archives in");
    }
}
