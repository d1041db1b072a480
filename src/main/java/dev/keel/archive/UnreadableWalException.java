package dev.keel.archive;

/**
 * A WAL object that does not read back as it was written: wrong checksum, size or compression.
 * Its message is a predicate ("is corrupt: ...") for a sentence that names the file first.
 */
public final class UnreadableWalException extends RuntimeException {
    public UnreadableWalException(String message) {
        super(message);
    }
}
