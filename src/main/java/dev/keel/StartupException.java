package dev.keel;

/** Keel cannot start; the message says why and what to change. Printed without a stack trace. */
public final class StartupException extends RuntimeException {
    public StartupException(String message) {
        super(message);
    }

    public StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
