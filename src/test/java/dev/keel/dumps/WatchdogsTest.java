package dev.keel.dumps;

import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A watchdog check that throws (an exception, or an Error short of the JVM's own) runs again at
 * its next turn: a scheduled task that throws is otherwise cancelled for good, silently, and the
 * download server's slow clients would no longer be ended.
 */
class WatchdogsTest {

    @Test
    void aCheckThatThrowsRunsAgainAtItsNextTurn() {
        AtomicInteger runs = new AtomicInteger();
        ScheduledFuture<?> checks = Watchdogs.every(Duration.ofMillis(50), () -> {
            int run = runs.incrementAndGet();
            if (run == 1) {
                throw new IllegalStateException("a check's bug");
            }
            if (run == 2) {
                throw new AssertionError("a check's Error");
            }
        });
        try {
            Wait.until("a check that threw to run again", Timeouts.WATCHDOG_TURNS, () -> runs.get() >= 3);
            assertThat(checks.isDone()).as("the check is still scheduled").isFalse();
        } finally {
            checks.cancel(false);
        }
    }
}
