package dev.keel.dumps;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The download server's places for downloads ({@link DumpDownloadServer}): at most
 * {@link #MAX_PER_BACKUP} downloads of one backup (by any of its links), {@code maxPerTeam} of one
 * team's backups ({@code KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM}), and {@link #SLOTS} over all, so
 * that neither a crowd on one link nor one team's slow downloads take every place, and TLS
 * handshakes and requests (which run on more threads than downloads do) always find a thread. The
 * three limits are taken together under one lock (counters rather than a {@code Semaphore}), so a
 * refused download holds none of them.
 */
final class DownloadPlaces {
    /** How many downloads of one backup (by any of its links) may run at once. */
    static final int MAX_PER_BACKUP = 2;
    /** How many downloads the server runs at once, over all teams. */
    static final int SLOTS = 8;
    /** Retry-After when every place is taken: a download of a small backup takes seconds. */
    static final int RETRY_AFTER_SECONDS = 30;

    private final int maxPerTeam;
    private final Map<UUID, Integer> perBackup = new HashMap<>();
    private final Map<UUID, Integer> perTeam = new HashMap<>();
    private int running;

    DownloadPlaces(int maxPerTeam) {
        this.maxPerTeam = maxPerTeam;
    }

    /** Why a download may not begin now: its HTTP status, the sentence for the client, and Retry-After seconds (0: none). */
    record Refusal(int status, String message, int retryAfterSeconds) {
    }

    /** Takes a place for a download of {@code backup}, or says why there is none (then nothing is taken). */
    synchronized Optional<Refusal> take(Transfer backup) {
        int ofBackup = perBackup.getOrDefault(backup.id(), 0);
        if (ofBackup >= MAX_PER_BACKUP) {
            return Optional.of(new Refusal(429, "Backup " + backup.name() + " is being downloaded " + MAX_PER_BACKUP + " times at once"
                    + " already, as many as one backup may be; wait for one of those downloads to finish, then ask again.", 0));
        }
        int ofTeam = perTeam.getOrDefault(backup.teamId(), 0);
        if (ofTeam >= maxPerTeam) {
            return Optional.of(new Refusal(429, "Your team is running " + ofTeam + " backup downloads at once already, as many as one"
                    + " team may (KEEL_BACKUPS_DOWNLOAD_MAX_PER_TEAM); wait for one of them to finish, then ask again.", 0));
        }
        if (running >= SLOTS) {
            return Optional.of(new Refusal(503, "All " + SLOTS + " downloads this server runs at once are taken; try again in "
                    + RETRY_AFTER_SECONDS + " s.", RETRY_AFTER_SECONDS));
        }
        perBackup.put(backup.id(), ofBackup + 1);
        perTeam.put(backup.teamId(), ofTeam + 1);
        running++;
        return Optional.empty();
    }

    /** Gives back the place a download of {@code backup} took. */
    synchronized void give(Transfer backup) {
        perBackup.computeIfPresent(backup.id(), (id, n) -> n == 1 ? null : n - 1);
        perTeam.computeIfPresent(backup.teamId(), (id, n) -> n == 1 ? null : n - 1);
        running--;
    }
}
