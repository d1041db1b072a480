package dev.keel.replication;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fence guard reads exactly the watch and pulse Keel wrote, whatever a password holds, and
 * refuses a watch of another format; and its rule ({@link FenceGuard#due}) fences a primary
 * nothing vouched for over T_fence unless Keel's self-fence runs and is not a round late.
 */
class FenceWatchTest {
    private static final Duration T = Duration.ofSeconds(2);
    private static final long SECOND = 1_000_000_000L;

    @Test
    void theGuardReadsWhatKeelWrote() {
        FenceWatch watch = new FenceWatch("0.1.0+abc", T, Path.of("/var/lib/keel/data/ca.pem"), List.of(
                new FenceWatch.Server(UUID.randomUUID(), Path.of("/var/lib/keel/servers/instances/a/data"),
                        Path.of("/var/lib/keel/servers/instances/a/spool"), "10.0.0.7", 25001, 17, "p=ss:wo#rd!\\ \n\u00e9", "keel_standby_x"),
                new FenceWatch.Server(UUID.randomUUID(), Path.of("/srv/b data"), Path.of("/srv/b spool"), "fd00::7", 25002, 14, "",
                        "keel_standby_y")), Duration.ofMillis(2500), List.of(
                new FenceWatch.Server(UUID.randomUUID(), Path.of("/srv/c data"), Path.of("/srv/c spool"), "10.0.0.8", 25003, 16, "x=y",
                        "keel_wal_receiver")));
        String text = watch.render();
        assertThat(FenceWatch.parse(text)).isEqualTo(watch);
        assertThat(watch.render()).isEqualTo(text);
        assertThat(text).doesNotStartWith("#");
        FenceWatch empty = FenceWatch.parse(new FenceWatch("b", T, Path.of("/ca.pem"), List.of(), T, List.of()).render());
        assertThat(empty.servers()).isEmpty();
        assertThat(empty.letGo()).isEmpty();
        FenceWatch.Pulse pulse = new FenceWatch.Pulse(-123_456_789L, 42L, true, Map.of(), Set.of());
        assertThat(FenceWatch.Pulse.parse(pulse.render())).isEqualTo(pulse);
        FenceWatch.Pulse vouching = new FenceWatch.Pulse(-123_456_789L, 42L, false, Map.of(UUID.randomUUID(), -5L, UUID.randomUUID(), 7L),
                Set.of(UUID.randomUUID(), UUID.randomUUID()));
        assertThat(FenceWatch.Pulse.parse(vouching.render())).isEqualTo(vouching);
        // A watch of format 1 lists no commits to let go: a guard of that format is told to exit, and one of this never reads one.
        assertThatThrownBy(() -> FenceWatch.parse(text.replace("format=2", "format=1"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("format 1");
        assertThatThrownBy(() -> FenceWatch.parse(text.replaceAll("(?m)^sync_grace_millis=.*$", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("no sync_grace_millis");
        assertThatThrownBy(() -> FenceWatch.parse(text.replaceAll("(?m)^server\\.0\\.spool=.*$", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("no server.0.spool");
    }

    @Test
    void theGuardFencesWhatNothingVouchedForOverTFenceUnlessKeelsSelfFenceRunsAndIsNotLate() {
        long now = 100 * SECOND;
        long fresh = now - T.toNanos() / 4 + 1;
        long quiet = now - T.toNanos() / 4;
        long past = now - T.toNanos() - 1;
        // Nothing vouched for over T: due unless Keel's self-fence runs (a pulse younger than T/4 that covers the watch).
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(past, fresh, true, Map.of(), Set.of()), null, T)).as("Keel fences").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(past, quiet, true, Map.of(), Set.of()), null, T)).as("Keel quiet for T/4").isTrue();
        assertThat(FenceGuard.keelRuns(now, new FenceWatch.Pulse(past, fresh, false, Map.of(), Set.of()), T)).as("Keel runs, by its pulse").isTrue();
        assertThat(FenceGuard.keelRuns(now, new FenceWatch.Pulse(past, quiet, true, Map.of(), Set.of()), T)).as("Keel's pulse T/4 old").isFalse();
        // Commits that wait for the receiver are Keel's to let go only while it runs and its synchronous archiving watches them.
        UUID primary = UUID.randomUUID();
        assertThat(FenceGuard.keelWatchesCommits(now, new FenceWatch.Pulse(past, fresh, true, Map.of(), Set.of(primary)), T, primary))
                .as("Keel runs and watches them").isTrue();
        assertThat(FenceGuard.keelWatchesCommits(now, new FenceWatch.Pulse(past, quiet, true, Map.of(), Set.of(primary)), T, primary))
                .as("Keel's pulse T/4 old").isFalse();
        assertThat(FenceGuard.keelWatchesCommits(now, new FenceWatch.Pulse(past, fresh, true, Map.of(), Set.of()), T, primary))
                .as("Keel runs but has not taken them in (just started, or stopping)").isFalse();
        assertThat(FenceGuard.keelWatchesCommits(now, null, T, primary)).as("no pulse read").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(past, fresh, false, Map.of(), Set.of()), null, T)).as("Keel starting: covers nothing yet").isTrue();
        // Vouched for: never due, whatever Keel does.
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - T.toNanos(), quiet, false, Map.of(), Set.of()), null, T)).as("a contact exactly T ago").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - 60 * SECOND, quiet, false, Map.of(), Set.of()), now - SECOND, T)).as("a reply 1 s ago").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - 60 * SECOND, quiet, true, Map.of(), Set.of()), past, T)).as("a reply over T ago").isTrue();
        // Keel's own witness of a primary (its standby's reply, or the standby's node's vouch) counts as the guard's would.
        UUID vouched = UUID.randomUUID();
        FenceWatch.Pulse keelSaw = new FenceWatch.Pulse(now - 60 * SECOND, quiet, false, Map.of(vouched, now - SECOND), Set.of());
        assertThat(FenceGuard.due(now, keelSaw, keelSaw.witnessed(vouched, null), T)).as("vouched for 1 s ago, by Keel").isFalse();
        assertThat(FenceGuard.due(now, keelSaw, keelSaw.witnessed(vouched, past), T)).as("the later of the two counts").isFalse();
        assertThat(FenceGuard.due(now, keelSaw, keelSaw.witnessed(UUID.randomUUID(), past), T)).as("another primary's witness").isTrue();
        // Keel's pulse is fresh, but a round has passed beyond the deadline without its fence: it stopped just after it wrote.
        long lateByARound = now - T.toNanos() - T.toNanos() / 8 - 1;
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(lateByARound, fresh, true, Map.of(), Set.of()), null, T)).isTrue();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(lateByARound + 2, fresh, true, Map.of(), Set.of()), null, T)).isFalse();
    }
}
