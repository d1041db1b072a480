package dev.keel.problems;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A failure the caller can act on: rendered as the problem of its {@link ProblemType}, with
 * {@code detail} as the sentence that says what is wrong and what to do.
 */
public class KeelException extends RuntimeException {
    private final ProblemType type;
    private final Map<String, Object> extensions = new LinkedHashMap<>();
    private long retryAfterSeconds;

    public KeelException(ProblemType type, String detail) {
        super(detail);
        this.type = type;
    }

    public KeelException(ProblemType type, String detail, Throwable cause) {
        super(detail, cause);
        this.type = type;
    }

    /** Adds a machine-readable member to the problem, e.g. {@code valid_values}. */
    public KeelException with(String name, Object value) {
        extensions.put(name, value);
        return this;
    }

    /** Asks the client to wait {@code seconds} (at least 1) before trying again: the answer carries {@code Retry-After}. */
    public KeelException retryAfter(long seconds) {
        retryAfterSeconds = Math.max(1, seconds);
        return this;
    }

    /** Seconds for {@code Retry-After}; 0 when the answer has none. */
    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    public ProblemType type() {
        return type;
    }

    public Map<String, Object> extensions() {
        return Map.copyOf(extensions);
    }

    public static KeelException notFound(String what, String idOrName) {
        return new KeelException(ProblemType.NOT_FOUND, what + " " + idOrName + " not found");
    }
}
