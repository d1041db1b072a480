package dev.keel.storage;

/** The object store could not do what was asked; the message says what and where. */
public class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }

    public StorageException(String message) {
        super(message);
    }

    /** There is no object under the key. */
    public static final class NotFound extends StorageException {
        public NotFound(String key) {
            super("no object " + key);
        }
    }
}
