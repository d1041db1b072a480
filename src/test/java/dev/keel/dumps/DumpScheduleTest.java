package dev.keel.dumps;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.jobs.Jobs;
import dev.keel.storage.ObjectStore;
import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.SystemTools;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.jooq.DSLContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.TRANSFERS;
import static org.assertj.core.api.Assertions.assertThat;

/** Daily logical backups fire on Quartz in their hour of their time zone, and the plan's retention keeps the right ones. */
@ExtendWith(SharedKeel.class)
class DumpScheduleTest {
    @BeforeEach
    void tools() {
        SystemTools.require("pg_dump");
    }

    @Test
    void aScheduledBackupFiresInItsHourAndRetentionKeepsSevenDailyAndTheNewestOfEarlierWeeks(TestKeel keel) throws Exception {
        Api api = keel.newTeam("schedules-" + System.nanoTime());
        List<String> made = new ArrayList<>();
        try {
            JsonNode db = LogicalBackupTest.provision(api, made);
            String id = db.get("id").asText();
            ZoneId newYork = ZoneId.of("America/New_York");
            int otherHour = (Instant.now().atZone(newYork).getHour() + 12) % 24;
            Api.Response set = api.put("/v1/databases/" + id + "/logical-backup-schedule", "{\"hour\":" + otherHour
                    + ",\"timezone\":\"America/New_York\"}");
            assertThat(set.status()).as(set.toString()).isEqualTo(200);
            assertThat(set.field("timezone")).isEqualTo("America/New_York");
            assertThat(keel.bean(ScheduledDumps.class).dispatch(Instant.now())).isEmpty(); // not its hour

            int hour = Instant.now().atZone(newYork).getHour();
            api.put("/v1/databases/" + id + "/logical-backup-schedule", "{\"hour\":" + hour + ",\"timezone\":\"America/New_York\"}");
            keel.bean(Jobs.class).triggerNow(DumpJobs.LogicalBackupScheduleJob.class);
            JsonNode fired = Wait.until("the scheduled backup to complete", Timeouts.LOGICAL_BACKUP, () -> {
                JsonNode list = api.get("/v1/databases/" + id + "/logical-backups").json();
                return list.size() == 1 && list.get(0).get("state").asText().equals("completed") ? Optional.of(list.get(0)) : Optional.empty();
            });
            assertThat(fired.get("schedule").asText()).isEqualTo("DATABASE_URL");
            assertThat(fired.get("name").asText()).startsWith("a");
            assertThat(keel.bean(ScheduledDumps.class).dispatch(Instant.now())).isEmpty(); // one a day

            Database database = keel.bean(DatabaseLookup.class).find(UUID.fromString(id)).orElseThrow();
            List<Transfer> backups = new ArrayList<>(List.of(keel.bean(TransferRepository.class).find(UUID.fromString(fired.get("id").asText()))
                    .orElseThrow()));
            // Nine more, taken as manual backups (so that the retention pass after each keeps them all), made scheduled below.
            for (int i = 1; i < 10; i++) {
                Transfer started = keel.bean(DumpCapture.class).start(database, null);
                LogicalBackupTest.awaitFinished(api, "/v1/databases/" + id + "/logical-backups/" + started.id());
                backups.add(started);
            }
            // Backdated, newest first, one a day from Tuesday 2026-06-30: the seven days to June 24 are daily backups;
            // June 23 and 22 share their ISO week with those, June 21 is the newest of the week before.
            DSLContext catalog = keel.bean(DSLContext.class);
            Instant tuesday = Instant.parse("2026-06-30T07:00:00Z");
            for (int i = 0; i < backups.size(); i++) {
                catalog.update(TRANSFERS).set(TRANSFERS.CREATED_AT, tuesday.minus(Duration.ofDays(backups.size() - 1 - i)).atOffset(ZoneOffset.UTC))
                        .set(TRANSFERS.SCHEDULE_NAME, "DATABASE_URL").where(TRANSFERS.ID.eq(backups.get(i).id())).execute();
            }
            List<Transfer> removed = keel.bean(DumpRetention.class).apply(database);
            assertThat(removed).extracting(Transfer::id).containsExactlyInAnyOrder(backups.get(1).id(), backups.get(2).id());
            ObjectStore store = keel.bean(ObjectStore.class);
            for (Transfer backup : backups) {
                boolean kept = !removed.stream().map(Transfer::id).toList().contains(backup.id());
                assertThat(store.head(DumpLayout.dumpKey(database.id(), backup.id())).isPresent()).as(backup.name()).isEqualTo(kept);
                assertThat(api.get("/v1/databases/" + id + "/logical-backups/" + backup.id()).status()).isEqualTo(kept ? 200 : 404);
            }
        } finally {
            made.forEach(api::deprovision);
        }
    }
}
