package dev.keel.storage;

/** The object store could not do what was asked; the message says what and where. */
public class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }

    public StorageException(String message) {
        super(message);
    }

    /** The calling thread was interrupted (a stream being stopped on purpose): no failure of the store. */
    public static final class Interrupted extends StorageException {
        public Interrupted(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** There is no object under the key. */
    public static final class NotFound extends StorageException {
        public NotFound(String key) {
            super("no object " + key);
        }
    }
}
