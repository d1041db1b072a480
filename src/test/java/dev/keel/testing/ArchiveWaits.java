package dev.keel.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.Lsn;
import dev.keel.postgres.TimelineId;
import dev.keel.postgres.WalSegmentName;

import java.sql.Connection;
import java.util.Optional;
import java.util.UUID;

/** Waiting for backups and archived WAL through the API, as a user would. */
public final class ArchiveWaits {
    private ArchiveWaits() {
    }

    public static JsonNode awaitBackup(Api api, String database, String backup) {
        return Wait.until("backup " + backup + " to complete", Timeouts.PROVISION, () -> {
            JsonNode b = api.get("/v1/databases/" + database + "/backups/" + backup).json();
            if ("failed".equals(b.get("state").asText())) {
                throw new AssertionError("backup failed: " + b.get("error").asText());
            }
            return "completed".equals(b.get("state").asText()) ? Optional.of(b) : Optional.empty();
        });
    }

    public static JsonNode awaitInitialBackup(Api api, String database) {
        return Wait.until("the first backup of " + database, Timeouts.PROVISION, () -> {
            for (JsonNode b : api.get("/v1/databases/" + database + "/backups").json()) {
                if ("initial".equals(b.get("kind").asText()) && "completed".equals(b.get("state").asText())) {
                    return Optional.of(b);
                }
            }
            return Optional.empty();
        });
    }

    /** Waits until database {@code database}'s WAL receiver has stored its WAL through {@code written} (an LSN). */
    public static void awaitStreamed(Api api, String database, String written) {
        Wait.until("the WAL receiver of " + database + " to store " + written, Timeouts.SWITCHOVER, () -> {
            JsonNode receiver = api.get("/v1/databases/" + database + "/archive").json().path("receiver");
            return receiver.hasNonNull("streamed_lsn") && !Lsn.parse(written).isAfter(Lsn.parse(receiver.get("streamed_lsn").asText()));
        });
    }

    /** Switches WAL as Keel's superuser and waits until the segment written up to now is archived. */
    public static void switchAndAwaitArchived(TestKeel keel, String database) throws Exception {
        switchAndAwaitArchived(keel, keel.api(), database);
    }

    /** As above, for a database of the team {@code api} speaks for. */
    public static void switchAndAwaitArchived(TestKeel keel, Api api, String database) throws Exception {
        Instance primary = keel.bean(InstanceRepository.class).primary(UUID.fromString(database)).orElseThrow();
        String segment;
        try (Connection connection = Superuser.connect(keel, primary, "postgres")) {
            Lsn lsn = Lsn.parse(Pg.scalar(connection, "select pg_current_wal_lsn()"));
            segment = WalSegmentName.containing(new TimelineId(1), lsn).toString();
            Pg.scalar(connection, "select pg_switch_wal()");
        }
        Wait.until("segment " + segment + " to be archived", Timeouts.PROVISION, () -> {
            String newest = api.get("/v1/databases/" + database + "/archive").field("newest_segment");
            return newest != null && newest.compareTo(segment) >= 0;
        });
    }
}
