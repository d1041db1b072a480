package dev.keel.restore;

/** An archived object does not match the checksum recorded when it was written: it must not be restored from. */
public final class CorruptArchiveException extends RuntimeException {
    public CorruptArchiveException(String message) {
        super(message);
    }

    public CorruptArchiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
