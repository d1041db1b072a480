package dev.keel.storage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Api;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.Pg;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedded store is durable: Keel, run under {@code strace}, fsyncs an archived WAL object's
 * file and its directory before the catalog records the object as archived. (S3Proxy's
 * filesystem back end alone makes no fsync, fdatasync or sync_file_range call.)
 */
class EmbeddedStoreDurabilityIT {
    /** {@code <pid> <epoch seconds.micros> fsync(<fd></path>) = 0}, as {@code strace -f -ttt -y} prints it. */
    // One line per call, or (a thread's call interrupted by another's in the trace) an "unfinished" line
    // naming the file and a "resumed" line of the same thread giving the result: a call counts when it
    // returned 0, at the time it returned. strace pads the pid to five columns: a pid of four digits or fewer is
    // followed by more than one space.
    private static final Pattern SYNC = Pattern.compile("^(\\d+)\\s+(\\d+\\.\\d+) (?:fsync|fdatasync)\\(\\d+<([^>]*)>\\)\\s+= 0$");
    private static final Pattern UNFINISHED = Pattern.compile("^(\\d+)\\s+\\d+\\.\\d+ (?:fsync|fdatasync)\\(\\d+<([^>]*)> <unfinished \\.\\.\\.>$");
    private static final Pattern RESUMED = Pattern.compile("^(\\d+)\\s+(\\d+\\.\\d+) <\\.\\.\\. (?:fsync|fdatasync) resumed>\\)\\s+= 0$");

    private record Sync(Instant at, String path) {
    }

    @Test
    void anArchivedSegmentIsFsyncedWithItsDirectoryBeforeTheCatalogRecordsIt() throws Exception {
        Path dataDir = TestKeel.freshDataDir("durable-store");
        Path trace = dataDir.resolveSibling(dataDir.getFileName() + "-fsync.trace");
        List<String> command = new ArrayList<>(List.of("strace", "-f", "--seccomp-bpf", "-I", "1", "-qq", "-e", "trace=fsync,fdatasync",
                "-e", "signal=none", "-y", "-ttt", "-o", trace.toString()));
        command.addAll(KeelProcess.command());
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

        List<Sync> syncs = syncs(trace);
        String file = "/s3/data/keel/" + id + "/wal/" + segment + ".zst";
        String directory = "/s3/data/keel/" + id + "/wal";
        Sync ofFile = syncs.stream().filter(s -> s.path().endsWith(file)).findFirst()
                .orElseThrow(() -> new AssertionError("no fsync of " + file + " among the " + syncs.size() + " in " + trace));
        Sync ofDirectory = syncs.stream().filter(s -> s.path().endsWith(directory) && !s.at().isBefore(ofFile.at())).findFirst()
                .orElseThrow(() -> new AssertionError("no fsync of " + directory + " after its file's in " + trace));
        // The catalog's archived_at is when the transaction that recorded the object began: both came first.
        assertThat(ofFile.at()).isBefore(recorded);
        assertThat(ofDirectory.at()).isBefore(recorded);
    }

    private static List<Sync> syncs(Path trace) throws IOException {
        List<Sync> syncs = new ArrayList<>();
        Map<String, String> unfinished = new HashMap<>();
        for (String line : Files.readAllLines(trace)) {
            Matcher whole = SYNC.matcher(line.strip());
            Matcher started = UNFINISHED.matcher(line.strip());
            Matcher resumed = RESUMED.matcher(line.strip());
            if (whole.matches()) {
                syncs.add(new Sync(instant(whole.group(2)), whole.group(3)));
            } else if (started.matches()) {
                unfinished.put(started.group(1), started.group(2));
            } else if (resumed.matches() && unfinished.containsKey(resumed.group(1))) {
                syncs.add(new Sync(instant(resumed.group(2)), unfinished.remove(resumed.group(1))));
            }
        }
        syncs.sort(Comparator.comparing(Sync::at));
        return syncs;
    }

    private static Instant instant(String epochSeconds) {
        BigDecimal seconds = new BigDecimal(epochSeconds);
        return Instant.ofEpochSecond(seconds.longValue(), seconds.remainder(BigDecimal.ONE).movePointRight(9).longValue());
    }
}
