package dev.keel.dumps;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The download server's places: a backup's, a team's and the server's limits, each refused with
 * its own answer, and a refused download holding none of them. The server's cap of 8 is reached
 * here rather than end to end, where it would take four teams' large backups and hold every place
 * other test classes share.
 */
class DownloadPlacesTest {
    private static final int MAX_PER_TEAM = 3;

    @Test
    void theNinthDownloadIs503WithRetryAfterAndARefusalHoldsNoPlace() {
        DownloadPlaces places = new DownloadPlaces(MAX_PER_TEAM);
        List<Transfer> running = new ArrayList<>();
        // Eight downloads over four teams, two backups of each team's, none at its backup's or team's cap.
        for (int team = 0; team < DownloadPlaces.SLOTS / 2; team++) {
            UUID teamId = UUID.randomUUID();
            for (int i = 0; i < 2; i++) {
                Transfer backup = backup(teamId, i + 1);
                assertThat(places.take(backup)).isEmpty();
                running.add(backup);
            }
        }
        Transfer ninth = backup(UUID.randomUUID(), 1);
        Optional<DownloadPlaces.Refusal> refused = places.take(ninth);
        assertThat(refused).contains(new DownloadPlaces.Refusal(503, "All 8 downloads this server runs at once are taken; try again in 30 s.",
                30));
        assertThat(places.take(ninth)).isPresent(); // a refusal took nothing
        places.give(running.remove(0));
        assertThat(places.take(ninth)).isEmpty();
    }

    @Test
    void aTeamAtItsCapIsRefusedBeforeTheServerIsFull() {
        DownloadPlaces places = new DownloadPlaces(MAX_PER_TEAM);
        UUID team = UUID.randomUUID();
        Transfer first = backup(team, 1);
        Transfer second = backup(team, 2);
        assertThat(places.take(first)).isEmpty();
        assertThat(places.take(first)).isEmpty();
        assertThat(places.take(first).map(DownloadPlaces.Refusal::status)).contains(429); // the backup's own cap of 2
        assertThat(places.take(second)).isEmpty();
        assertThat(places.take(second)).contains(new DownloadPlaces.Refusal(429, "Your team is running 3 backup downloads at once"
                + " already, as many as one team may (KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM); wait for one of them to finish, then ask"
                + " again.", 0));
        assertThat(places.take(backup(UUID.randomUUID(), 1))).as("another team").isEmpty();
        places.give(first);
        assertThat(places.take(second)).isEmpty();
    }

    private static Transfer backup(UUID team, long num) {
        return new Transfer(UUID.randomUUID(), num, team, TransferKind.BACKUP, UUID.randomUUID(), UUID.randomUUID(), TransferState.COMPLETED,
                null, null, null, null, 1L, 1L, "0".repeat(64), 0, null, Instant.now(), Instant.now());
    }
}
