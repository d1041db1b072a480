package dev.keel.storage;

import java.io.OutputStream;

/**
 * An object being written in parts. Nothing is visible under its key until {@link #complete};
 * {@link #close} without {@code complete} discards what was sent, so a failed or interrupted
 * writer never leaves a partial object that looks whole.
 */
public interface ObjectUpload extends AutoCloseable {
    /** Where to write the object's bytes. Closing it does not complete the upload. */
    OutputStream stream();

    /** Makes the object visible, with everything written so far; returns its size in bytes. */
    long complete();

    /** Discards the upload unless it was completed. */
    @Override
    void close();
}
