package dev.keel.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Waiting for a condition by polling, never by sleeping a fixed time. The first polls follow each
 * other closely and then every {@link #MAX_POLL_MILLIS}: a probe is an API request or a connection,
 * and a suite that polls every 25 ms through minutes of waiting spends its CPU answering them.
 */
public final class Wait {
    private static final long FIRST_POLL_MILLIS = 25;
    private static final long MAX_POLL_MILLIS = 100;

    private Wait() {
    }

    /** Polls {@code probe} until it yields a value; fails with {@code what} (and the probe's last failure) after {@code timeout}. */
    public static <T> T until(String what, Duration timeout, Supplier<Optional<T>> probe) {
        return until(what, timeout, probe, () -> null);
    }

    /** As {@link #until(String, Duration, Supplier)}; a timeout also says what {@code seen} tells (what the probe last saw). */
    public static <T> T until(String what, Duration timeout, Supplier<Optional<T>> probe, Supplier<String> seen) {
        return until(what, timeout, probe, seen, MAX_POLL_MILLIS);
    }

    /** Polls every {@code every} throughout: for a state that may last less than the usual interval. */
    public static void until(String what, Duration timeout, Duration every, java.util.function.BooleanSupplier condition) {
        until(what, timeout, every, probe(condition));
    }

    /** As {@link #until(String, Duration, Duration, java.util.function.BooleanSupplier)}, for a probe that yields a value. */
    public static <T> T until(String what, Duration timeout, Duration every, Supplier<Optional<T>> probe) {
        return until(what, timeout, probe, () -> null, every.toMillis());
    }

    private static <T> T until(String what, Duration timeout, Supplier<Optional<T>> probe, Supplier<String> seen, long maxPollMillis) {
        Instant deadline = Instant.now().plus(timeout);
        RuntimeException last = null;
        long pause = Math.min(FIRST_POLL_MILLIS, maxPollMillis);
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
                Thread.sleep(pause);
                pause = Math.min(maxPollMillis, pause * 2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }

    public static void until(String what, Duration timeout, java.util.function.BooleanSupplier condition) {
        until(what, timeout, probe(condition));
    }

    /** A condition as a probe: present once it holds. */
    private static Supplier<Optional<Boolean>> probe(java.util.function.BooleanSupplier condition) {
        return () -> condition.getAsBoolean() ? Optional.of(Boolean.TRUE) : Optional.empty();
    }
}
