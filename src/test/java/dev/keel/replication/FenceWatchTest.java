package dev.keel.replication;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fence guard reads exactly the watch and pulse Keel wrote, whatever a password holds, and
 * refuses a watch of another format; and its rule ({@link FenceGuard#due}) fences only while
 * Keel's self-fence is quiet and nothing vouched for the primary over T_fence.
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
                        "keel_standby_y")));
        String text = watch.render();
        assertThat(FenceWatch.parse(text)).isEqualTo(watch);
        assertThat(watch.render()).isEqualTo(text);
        assertThat(text).doesNotStartWith("#");
        assertThat(FenceWatch.parse(new FenceWatch("b", T, Path.of("/ca.pem"), List.of()).render()).servers()).isEmpty();
        FenceWatch.Pulse pulse = new FenceWatch.Pulse(-123_456_789L, 42L);
        assertThat(FenceWatch.Pulse.parse(pulse.render())).isEqualTo(pulse);
        assertThatThrownBy(() -> FenceWatch.parse(text.replace("format=1", "format=2"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("format 2");
        assertThatThrownBy(() -> FenceWatch.parse(text.replaceAll("(?m)^server\\.0\\.spool=.*$", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("no server.0.spool");
    }

    @Test
    void theGuardFencesOnlyWhileKeelsSelfFenceIsQuietAndNothingVouchedForThePrimaryOverTFence() {
        long now = 100 * SECOND;
        // Keel's self-fence wrote its pulse within T/4: it fences itself, whatever the contact and the replies.
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - 60 * SECOND, now - T.toNanos() / 4 + 1), null, T)).isFalse();
        // Keel quiet: its last contact vouches for T, then a standby's reply does.
        long quiet = now - SECOND;
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - T.toNanos(), quiet), null, T)).as("exactly T").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - T.toNanos() - 1, quiet), null, T)).as("never read a reply").isTrue();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - 60 * SECOND, quiet), now - SECOND, T)).as("a reply 1 s ago").isFalse();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - 60 * SECOND, quiet), now - T.toNanos() - 1, T)).isTrue();
        assertThat(FenceGuard.due(now, new FenceWatch.Pulse(now - SECOND, quiet), now - 60 * SECOND, T)).as("a contact 1 s ago").isFalse();
    }
}
