package dev.keel.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;

/** Waiting for a condition by polling, never by sleeping a fixed time. */
public final class Wait {
    private static final long POLL_MILLIS = 25;

    private Wait() {
    }

    /** Polls {@code probe} until it yields a value; fails with {@code what} (and the probe's last failure) after {@code timeout}. */
    public static <T> T until(String what, Duration timeout, Supplier<Optional<T>> probe) {
        return until(what, timeout, probe, () -> null);
    }

    /** As {@link #until(String, Duration, Supplier)}; a timeout also says what {@code seen} tells (what the probe last saw). */
    public static <T> T until(String what, Duration timeout, Supplier<Optional<T>> probe, Supplier<String> seen) {
        Instant deadline = Instant.now().plus(timeout);
        RuntimeException last = null;
        while (true) {
            try {
                Optional<T> value = probe.get();
                if (value.isPresent()) {
                    return value.get();
                }
                last = null;
            } catch (RuntimeException e) {
                last = e;
            }
            if (Instant.now().isAfter(deadline)) {
                String said;
                try {
                    said = seen.get();
                } catch (RuntimeException e) {
                    said = "what the probe saw could not be told: " + e;
                }
                throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what
                        + (said == null ? "" : "; " + said), last);
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }

    public static void until(String what, Duration timeout, java.util.function.BooleanSupplier condition) {
        until(what, timeout, () -> condition.getAsBoolean() ? Optional.of(Boolean.TRUE) : Optional.empty());
    }
}
