package dev.keel.dumps;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Which logical backups a plan keeps: 7 daily and 4 weekly scheduled ones and 25 manual ones on standard, as Heroku does. */
class DumpRetentionTest {
    private static final Instant NOW = Instant.parse("2026-06-30T12:00:00Z"); // a Tuesday
    private static final DumpRetention.Policy STANDARD = new DumpRetention.Policy(7, 4, 25);
    private long num;

    @Test
    void fortyDailyBackupsKeepTheLastSevenDaysAndTheNewestOfFourEarlierWeeks() {
        List<Transfer> backups = new ArrayList<>();
        for (int day = 0; day < 40; day++) {
            backups.add(scheduled(NOW.minus(Duration.ofDays(day)), TransferState.COMPLETED));
        }
        List<Transfer> expired = DumpRetention.expired(backups, STANDARD, NOW);
        List<String> kept = backups.stream().filter(b -> !expired.contains(b)).map(b -> b.createdAt().toString().substring(0, 10)).toList();
        // June 24-30 daily; then the newest of the ISO weeks before June 24: June 21 (week 25), 14 (24), 7 (23), May 31 (22).
        assertThat(kept).containsExactly("2026-06-30", "2026-06-29", "2026-06-28", "2026-06-27", "2026-06-26", "2026-06-25",
                "2026-06-24", "2026-06-21", "2026-06-14", "2026-06-07", "2026-05-31");
    }

    @Test
    void twoBackupsOnOneDayKeepTheNewerAsThatDaysBackup() {
        Transfer early = scheduled(NOW.minus(Duration.ofHours(10)), TransferState.COMPLETED);
        Transfer late = scheduled(NOW.minus(Duration.ofHours(1)), TransferState.COMPLETED);
        assertThat(DumpRetention.expired(List.of(late, early), STANDARD, NOW)).containsExactly(early);
    }

    @Test
    void manualBackupsKeepTheNewestOnesUpToThePlansNumber() {
        List<Transfer> backups = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            backups.add(manual(NOW.minus(Duration.ofMinutes(i)), TransferState.COMPLETED));
        }
        assertThat(DumpRetention.expired(backups, STANDARD, NOW)).containsExactlyElementsOf(backups.subList(25, 30));
        assertThat(DumpRetention.expired(backups, new DumpRetention.Policy(7, 0, 5), NOW)).hasSize(25);
    }

    @Test
    void failedAndCanceledBackupsGoAfterADayAndRunningOnesStay() {
        Transfer failedOld = manual(NOW.minus(Duration.ofHours(30)), TransferState.FAILED);
        Transfer failedNew = manual(NOW.minus(Duration.ofHours(2)), TransferState.FAILED);
        Transfer canceledOld = scheduled(NOW.minus(Duration.ofDays(3)), TransferState.CANCELED);
        Transfer running = manual(NOW.minus(Duration.ofDays(5)), TransferState.RUNNING);
        assertThat(DumpRetention.expired(List.of(failedNew, failedOld, canceledOld, running), STANDARD, NOW))
                .containsExactlyInAnyOrder(failedOld, canceledOld);
    }

    private Transfer scheduled(Instant at, TransferState state) {
        return transfer(at, state, "DATABASE_URL");
    }

    private Transfer manual(Instant at, TransferState state) {
        return transfer(at, state, null);
    }

    private Transfer transfer(Instant at, TransferState state, String schedule) {
        return new Transfer(UUID.randomUUID(), ++num, UUID.randomUUID(), TransferKind.BACKUP, UUID.randomUUID(), UUID.randomUUID(), state,
                schedule, null, null, null, 1L, 1L, null, 0, null, at, state == TransferState.RUNNING ? null : at);
    }
}
