package dev.keel.replication;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The fence guard reads exactly the watch Keel wrote, whatever a password holds, and the same watch is the same text. */
class FenceWatchTest {
    @Test
    void theGuardReadsWhatKeelWrote() {
        FenceWatch watch = new FenceWatch(Duration.ofMillis(2000), -123_456_789L, Path.of("/var/lib/keel/data/ca.pem"), List.of(
                new FenceWatch.Server(UUID.randomUUID(), Path.of("/var/lib/keel/servers/instances/a/data"), "10.0.0.7", 25001, 17,
                        "p=ss:wo#rd!\\ \n\u00e9", "keel_standby_x"),
                new FenceWatch.Server(UUID.randomUUID(), Path.of("/srv/b data"), "fd00::7", 25002, 14, "", "keel_standby_y")));
        String text = watch.render();
        assertThat(FenceWatch.parse(text)).isEqualTo(watch);
        assertThat(watch.render()).isEqualTo(text);
        assertThat(text).doesNotContain("#2").doesNotStartWith("#");
        assertThat(FenceWatch.parse(new FenceWatch(Duration.ofSeconds(3), 1, Path.of("/ca.pem"), List.of()).render()).servers()).isEmpty();
    }
}
