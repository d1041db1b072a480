package dev.keel.storage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Api;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.SyscallTrace;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded store is durable: Keel, run under {@code strace}, fsyncs an archived WAL object's
 * file and its directory before the catalog records the object as archived. (S3Proxy's
 * filesystem back end alone makes no fsync, fdatasync or sync_file_range call.)
 */
class EmbeddedStoreDurabilityIT {
    @Test
    void anArchivedSegmentIsFsyncedWithItsDirectoryBeforeTheCatalogRecordsIt() throws Exception {
        Path dataDir = TestKeel.freshDataDir("durable-store");
        Path trace = dataDir.resolveSibling(dataDir.getFileName() + "-fsync.trace");
        List<String> command = SyscallTrace.command(trace, "fsync,fdatasync", KeelProcess.command());
        KeelProcess keel = KeelProcess.start(command, dataDir, TestKeel.nextPorts(), "0", KeelProcess.NO_POOL);
        String id;
        String segment;
        Instant recorded;
        try {
            Api api = keel.api();
            JsonNode database = api.provision("{\"plan\":\"essential-0\"}");
            id = database.get("id").asText();
            // About 24 MB of WAL: a segment completes and is archived.
            try (Connection connection = Pg.connect(database.get("url").asText(), dataDir.resolve("ca.pem"));
                 Statement sql = connection.createStatement()) {
                sql.execute("create table filler as select g, repeat(md5(g::text), 32) as pad from generate_series(1, 20000) g");
            }
            JsonNode archive = Wait.until("a WAL segment to be archived", Timeouts.PROVISION, () -> {
                JsonNode a = api.get("/v1/databases/" + id + "/archive").json();
                return a.path("newest_segment").isTextual() ? Optional.of(a) : Optional.empty();
            });
            segment = archive.get("newest_segment").asText();
            recorded = Instant.parse(archive.get("newest_archived_at").asText());
        } finally {
            // strace runs Keel as its child and goes on tracing the servers Keel leaves running: stop Keel,
            // then strace (it detaches and writes out its trace), then the servers.
            for (ProcessHandle java : keel.handle().children().toList()) {
                java.destroy();
                java.onExit().get(Timeouts.PROCESS_EXIT.toSeconds(), TimeUnit.SECONDS);
            }
            keel.stop();
            Keel.stopServers(dataDir);
        }

        List<SyscallTrace.Call> syncs = SyscallTrace.read(trace).stream().filter(SyscallTrace.Call::isSync).toList();
        String file = "/s3/data/keel/" + id + "/wal/" + segment + ".zst";
        String directory = "/s3/data/keel/" + id + "/wal";
        SyscallTrace.Call ofFile = syncs.stream().filter(s -> s.descriptorPath().orElse("").endsWith(file)).findFirst()
                .orElseThrow(() -> new AssertionError("no fsync of " + file + " among the " + syncs.size() + " in " + trace));
        SyscallTrace.Call ofDirectory = syncs.stream()
                .filter(s -> s.descriptorPath().orElse("").endsWith(directory) && !s.at().isBefore(ofFile.at())).findFirst()
                .orElseThrow(() -> new AssertionError("no fsync of " + directory + " after its file's in " + trace));
        // The catalog's archived_at is when the transaction that recorded the object began: both came first.
        assertThat(ofFile.at()).isBefore(recorded);
        assertThat(ofDirectory.at()).isBefore(recorded);
    }
}
