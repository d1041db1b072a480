package dev.keel.archive;

/** A WAL object that does not read back as it was written: wrong checksum, size, compression or cluster. */
public final class UnreadableWalException extends RuntimeException {
    public UnreadableWalException(String message) {
        super(message);
    }
}
